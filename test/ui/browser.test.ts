// The streaming UI in a real browser (Debian's chromium, driven by playwright-core): a job on the system clock with
// 200 ms batches fed by a receiver; the page draws its four timelines and histograms, its batch table grows as
// batches complete, its tables show the receiver and the stateful operators, a batch's page opens from the table,
// and the state page looks a key up. A screenshot of the main page is saved to a temporary folder.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { Receiver, type State, StateSpec, StreamingContext } from "spate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureDebianPackage } from "../support/debian.js";
import { freePort } from "./support.js";

// Globals of the page, for the functions that run in the browser (the project's types have no DOM).
declare const window: any;
declare const document: any;

const CHARTS = ["inputRate", "schedulingDelay", "processingTime", "totalDelay"] as const;

/** Clicks on a site: a rate that swells and ebbs, over a few dozen pages. */
class Clicks extends Receiver<string> {
  private timer: NodeJS.Timeout | undefined;
  onStart() {
    const started = Date.now();
    let reported = false;
    this.timer = setInterval(() => {
      const t = (Date.now() - started) / 1000;
      const n = Math.round(8 + 6 * Math.sin(t * 1.7) + Math.random() * 4);
      void this.store(Array.from({ length: n }, () => `/page/${Math.floor(Math.random() * 40)}`));
      if (!reported && t > 1) {
        reported = true;
        this.reportError("skipped a malformed line", new Error("invalid UTF-8 at byte 17"));
      }
    }, 20);
  }
  onStop() {
    clearInterval(this.timer);
  }
}

let browser: Browser;

beforeAll(async () => {
  ensureDebianPackage("chromium", "/usr/bin/chromium");
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

function chartPoints(page: Page): Promise<Record<string, { attr: number; uplot: number }>> {
  return page.evaluate(
    (names) => {
      const charts = window.spateCharts as Record<string, { data: number[][] }>;
      const out: Record<string, { attr: number; uplot: number }> = {};
      for (const n of names) {
        out[n] = {
          attr: Number(document.getElementById(`chart-${n}`)!.dataset.points),
          uplot: charts[n]?.data[0]?.length ?? -1,
        };
      }
      return out;
    },
    CHARTS as unknown as string[],
  );
}

/** Pixels of each chart's canvas near its series' stroke colour: the line uPlot drew. */
function strokePixels(page: Page): Promise<Record<string, number>> {
  return page.evaluate(
    (names) => {
      const charts = window.spateCharts as Record<
        string,
        { ctx: any; series: Array<{ stroke?: () => string }> }
      >;
      const out: Record<string, number> = {};
      for (const n of names) {
        const u = charts[n]!;
        const hex = u.series[1]!.stroke!();
        const want = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
        const { width, height } = u.ctx.canvas;
        const px = u.ctx.getImageData(0, 0, width, height).data;
        let count = 0;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3]! > 200 && want.every((c, j) => Math.abs(px[i + j]! - c) < 40)) count++;
        }
        out[n] = count;
      }
      return out;
    },
    CHARTS as unknown as string[],
  );
}

const rowsOf = (page: Page) => page.locator("#batches tbody tr").count();

describe("the streaming UI in a browser", () => {
  it("draws the four charts with data points and a batch table that grows", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-ui-browser-"));
    const ssc = new StreamingContext({
      batchDuration: 200,
      appName: "clickstream",
      conf: { "spate.ui.port": await freePort(), "spate.receiver.writeAheadLog.enable": true },
    });
    ssc.checkpoint(path.join(dir, "checkpoint"));
    const pages = ssc.receiverStream(new Clicks()).map((p) => [p, 1] as [string, number]);
    pages
      .mapWithState(
        StateSpec.function((p: string, one: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (one ?? 0));
          return [p, state.get()] as [string, number];
        }),
      )
      .uid("page-views")
      .checkpoint(1000)
      .foreachRDD(
        async (rdd) => {
          await rdd.count();
          // Some work that varies, so that processing times are not all alike.
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 25));
        },
        { name: "count views" },
      );
    pages
      .reduceByKeyAndWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        2000,
        400,
      )
      .uid("top-pages")
      .checkpoint(1200)
      .foreachRDD(async (rdd) => {
        await rdd.sortBy(([, n]) => n, false).take(5);
      });
    await ssc.start();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1200 } });
      page.setDefaultTimeout(12_000);
      await page.goto(ssc.uiUrl!);
      await expect(page.title()).resolves.toContain("clickstream");

      // Each chart gets points as completed batches come in; uPlot holds as many as the element says.
      await page.waitForFunction(
        (names) => names.every((n) => Number(document.getElementById(`chart-${n}`)!.dataset.points) >= 5),
        CHARTS as unknown as string[],
      );
      const first = await chartPoints(page);
      for (const n of CHARTS) {
        expect(first[n]!.attr).toBeGreaterThanOrEqual(5);
        expect(first[n]!.uplot).toBe(first[n]!.attr);
      }
      const drawn = await strokePixels(page);
      for (const n of CHARTS) expect(drawn[n], `${n} has a line drawn`).toBeGreaterThan(10);

      // The batch table grows (newest first), and the charts with it.
      const rowsBefore = await rowsOf(page);
      expect(rowsBefore).toBeGreaterThanOrEqual(5);
      await page.waitForFunction(
        (n) => document.querySelectorAll("#batches tbody tr").length > n,
        rowsBefore,
      );
      const later = await chartPoints(page);
      for (const n of CHARTS) expect(later[n]!.attr).toBeGreaterThan(first[n]!.attr);
      const firstRow = (await page.locator("#batches tbody tr").first().textContent()) ?? "";
      expect(firstRow).toMatch(/completed|processing|queued/);
      expect(firstRow).toContain("count views");
      // The window's output runs every other batch (a 400 ms slide), by its kind as it has no name.
      expect((await page.locator("#batches").textContent()) ?? "").toContain("foreachRDD");

      // Each histogram counts the batches its timeline shows, in bars.
      await page.waitForFunction(
        (names) =>
          names.every(
            (n) =>
              Number(document.getElementById(`histogram-${n}`)!.dataset.points) >= 5 &&
              window.spateHistograms[n].data[1].some((c: number | null) => (c ?? 0) > 0),
          ),
        CHARTS as unknown as string[],
      );
      const histogramTotals = await page.evaluate(
        (names) =>
          names.map((n) => [
            Number(document.getElementById(`histogram-${n}`)!.dataset.points),
            (window.spateHistograms[n].data[1] as Array<number | null>).reduce<number>(
              (a, c) => a + (c ?? 0),
              0,
            ),
          ]),
        CHARTS as unknown as string[],
      );
      for (const [points, total] of histogramTotals) expect(total).toBe(points);

      // Receivers and stateful operators, with what their events said.
      const inputs = (await page.locator("#inputs").textContent()) ?? "";
      expect(inputs).toContain("Clicks");
      expect(inputs).toContain("running");
      await page.waitForFunction(() =>
        document.getElementById("inputs")!.textContent!.includes("skipped a malformed line"),
      );
      await page.waitForFunction(() => {
        const t = document.getElementById("operators")!.textContent!;
        return t.includes("page-views") && t.includes("top-pages") && /full @/.test(t);
      });
      const cards = (await page.locator("#cards").textContent()) ?? "";
      expect(cards).toMatch(/1 \/ 1 active/);

      // A screenshot with a few seconds of history (about 30 batches).
      await page.waitForFunction(() => document.querySelectorAll("#batches tbody tr").length >= 30);
      await page.waitForTimeout(300); // the redraw after the table's
      const shot = path.join(mkdtempSync(path.join(tmpdir(), "spate-ui-shot-")), "ui.png");
      await page.screenshot({ path: shot, fullPage: process.env.SPATE_UI_SHOT_FULL === "1" });
      console.info(`streaming UI screenshot: ${shot}`);

      // A completed batch's page, opened from the batch table: input with what the receiver logged, the outputs
      // by name, and the data checkpoints written after it.
      const completedLink = page
        .locator("#batches tbody tr", { hasText: "completed" })
        .nth(3)
        .locator("a")
        .first();
      const batchId = ((await completedLink.getAttribute("href")) ?? "").split("/").pop();
      await completedLink.click();
      await page.waitForURL(`**/batches/${batchId}`);
      const summary = (await page.locator("dl.summary").textContent()) ?? "";
      expect(summary).toContain(new Date(Number(batchId)).toISOString());
      expect(summary).toMatch(/Processing time\d+ ms/);
      const batchInputs = (await page.locator("#batch-inputs").textContent()) ?? "";
      expect(batchInputs).toMatch(/\d+ blocks?, \d+ records, logged in the write-ahead log/);
      const outputs = (await page.locator("#batch-outputs").textContent()) ?? "";
      expect(outputs).toContain("count views");
      expect(outputs).toContain("succeeded");
      await page.goBack();

      // The state page: pick an operator, type a key, read its state.
      await page.goto(`${ssc.uiUrl}/state`);
      await page.selectOption("select[name=operator]", "page-views");
      await page.fill("input[name=key]", '"/page/7"');
      await page.click("button[type=submit]");
      await page.waitForURL(/operator=page-views/);
      const answer = JSON.parse((await page.locator("#state-result pre").textContent()) ?? "{}");
      expect(answer).toMatchObject({
        operator: "page-views",
        kind: "mapWithState",
        key: "/page/7",
        found: true,
      });
      expect(answer.state).toBeGreaterThan(0);
      await page.close();
    } finally {
      await ssc.stop();
    }
  }, 30_000);
});
