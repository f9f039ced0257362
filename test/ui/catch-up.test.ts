// After a restart with down time, the UI's statistics say how many batches it catches up and how far it is, and the
// page has a line for it.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { freePort, getJson } from "./support.js";

const BATCH = 1000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

describe("the UI during a catch-up", () => {
  it("shows the batches of the down time and how many have run", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-ui-catch-up-"));
    const input = path.join(base, "in");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    let hold: Promise<void> | undefined;
    let reached: () => void = () => {};
    const create = (clock: ManualClock, port: number) => () => {
      const ssc = new StreamingContext({
        batchDuration: BATCH,
        clock,
        logger: silent,
        conf: { "spate.ui.port": port },
      });
      ssc.textFileStream(input).foreachRDD(async (_rdd, time) => {
        if (time === 2000 * BATCH && hold) {
          reached();
          await hold;
        }
      });
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(checkpoint, create(new ManualClock(0), 0));
    await first.start();
    (first.clock as ManualClock).advance(2 * BATCH);
    await first.awaitIdle();
    await first.stop();

    let release: () => void = () => {};
    hold = new Promise((r) => {
      release = r;
    });
    const atHold = new Promise<void>((r) => {
      reached = r;
    });
    const second = await StreamingContext.getOrCreate(
      checkpoint,
      create(new ManualClock(5000 * BATCH), await freePort()),
    );
    try {
      await second.start();
      const api = `${second.uiUrl}/api/v1/streaming`;
      await atHold;
      const during = (await getJson(`${api}/statistics`)).body as { catchUp?: Record<string, unknown> };
      expect(during.catchUp).toMatchObject({
        batches: 4998,
        downTimeBatches: 4998,
        numCompletedBatches: 1997,
      });
      expect(during.catchUp?.endTime).toBeUndefined();
      expect(typeof during.catchUp?.startTime).toBe("string");
      release();
      await second.awaitIdle();
      const after = (await getJson(`${api}/statistics`)).body as { catchUp?: Record<string, unknown> };
      expect(after.catchUp).toMatchObject({ batches: 4998, numCompletedBatches: 4998 });
      expect(Number.isNaN(Date.parse(String(after.catchUp?.endTime)))).toBe(false);
      const page = await (await fetch(`${second.uiUrl}/`)).text();
      expect(page).toContain('id="catchup"');
      // Rendered on the server: the line says the catch-up is over.
      expect(page).toMatch(
        /<div id="catchup">Caught up after the restart: 4,998 batches \(4,998 of down time\) in /,
      );
    } finally {
      release();
      await second.stop();
    }
  }, 60_000);
});
