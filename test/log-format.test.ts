// One log format per output: not on a terminal, everything spate writes on stderr (the engine's logs, the command's
// own lines, a job's lines written through `ssc.logger`, the final error) is JSON lines; on a terminal, readable
// lines. The job's own `print()` output goes to stdout, as Spark's does.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { ManualClock, StreamingContext } from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { type Child, root, spateRun } from "./support/child.js";

const running: Child[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.stop("SIGKILL")));
});

/** Every non-empty line of `text`, parsed as JSON (a line that is not JSON fails the test, naming it). */
function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

describe("log format", () => {
  it("a job run by the spate command writes only JSON lines on stderr when it is not a terminal", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-log-format-"));
    const job = path.join(dir, "job.mts");
    writeFileSync(
      job,
      `import { ManualClock, StreamingContext } from ${JSON.stringify(path.join(root, "src/index.ts"))};
export default function createContext() {
  const ssc = new StreamingContext({ batchDuration: 200, appName: "log-format" });
  ssc.queueStream([["a"]]).foreachRDD(async (rdd, time) => {
    ssc.logger.info({ batchTime: time, records: await rdd.count() }, "the job's own line");
  });
  return ssc;
}
`,
    );
    const run = spateRun([job], { SPATE_LOG_LEVEL: "debug" });
    running.push(run);
    await run.until((o) => o.includes("the job's own line"), 30_000);
    await run.until((o) => o.includes("batch completed"), 30_000);
    expect(await run.stop("SIGINT")).toBe(0);
    // The job prints nothing on stdout, so its output is its stderr.
    expect(run.stdout()).toBe("");
    const lines = jsonLines(run.output());
    const messages = lines.map((l) => l.msg);
    expect(messages).toContain("job started without checkpoints");
    expect(messages).toContain("streaming context started");
    expect(messages).toContain("the job's own line");
    expect(messages).toContain("batch completed");
    expect(messages).toContain("SIGINT: stopping (send it again to force)");
    for (const l of lines) expect(Object.keys(l).slice(0, 4)).toEqual(["time", "level", "name", "msg"]);

    // A failure: one JSON line at error level, with the code.
    const failed = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "checkpoint", "verify", path.join(dir, "none")],
      { cwd: root, encoding: "utf8" },
    );
    expect(failed.status).toBe(1);
    expect(jsonLines(failed.stderr)).toEqual([
      expect.objectContaining({
        level: "error",
        name: "spate",
        code: "SPATE_INVALID_ARGUMENT",
        msg: expect.stringMatching(/^No checkpoint folder at .* \[SPATE_INVALID_ARGUMENT\]$/),
      }),
    ]);
  });

  it("on a terminal, the command writes readable lines", { timeout: 60_000 }, () => {
    // `script` gives the command a terminal.
    const dir = mkdtempSync(path.join(tmpdir(), "spate-log-tty-"));
    const command = `${process.execPath} --import tsx src/cli/main.ts checkpoint verify ${path.join(dir, "none")}`;
    let out = "";
    try {
      out = execFileSync("script", ["-qec", command, "/dev/null"], { cwd: root, encoding: "utf8" });
    } catch (e) {
      out = String((e as { stdout?: string }).stdout);
    }
    const line = out.split(/\r?\n/).find((l) => l.includes("No checkpoint folder"));
    expect(line).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z ERROR spate: No checkpoint folder at .* \[SPATE_INVALID_ARGUMENT\]/,
    );
    expect(() => JSON.parse(line!)).toThrow();
  });

  it("a context's default logger writes JSON lines on stderr when it is not a terminal", async () => {
    const writes: string[] = [];
    const write = process.stderr.write;
    const level = process.env.SPATE_LOG_LEVEL;
    process.env.SPATE_LOG_LEVEL = "info";
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      const clock = new ManualClock(0);
      const ssc = new StreamingContext({ batchDuration: 1000, clock, appName: "default-logger" });
      ssc.queueStream([["a"]]).foreachRDD(() => {});
      ssc.logger.info({ answer: 42 }, "a line of the job");
      await ssc.start();
      clock.advance(1000);
      await ssc.awaitIdle();
      await ssc.stop();
    } finally {
      process.stderr.write = write;
      process.env.SPATE_LOG_LEVEL = level;
    }
    const lines = jsonLines(writes.join(""));
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["a line of the job", "streaming context started", "batches summary"]),
    );
    expect(lines.find((l) => l.msg === "a line of the job")).toMatchObject({
      level: "info",
      name: "default-logger",
      answer: 42,
    });
  });
});
