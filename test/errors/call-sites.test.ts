// Errors users can act on: every operator is named by where the user's code created it (Spark's callSite), a user
// error keeps its stack as the cause all the way to the log, and a create function that returns something else
// than a context says so.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Logger, ManualClock, Seconds, StreamingContext, UserFunctionError } from "spate";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runTs } from "../support/child.js";
import { rejection } from "../support/rejection.js";

const FILE = "test/errors/call-sites.test.ts";

function capture(): {
  logger: Logger;
  lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }>;
} {
  const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

/** The line of the caller of this function in this file. */
function lineHere(): number {
  const frame = new Error().stack!.split("\n")[2]!;
  return Number(/:(\d+):\d+\)?$/.exec(frame)![1]);
}

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe("operators are named by their call site", () => {
  it("a map that throws names `map at file:line (id)`, keeps the user's error with its stack as cause", async () => {
    const clock = new ManualClock(0);
    const { logger, lines } = capture();
    const ssc = new StreamingContext({
      batchDuration: Seconds(1),
      clock,
      logger,
      conf: { "spate.ui.port": 0 },
    });
    const boom = () => {
      throw new RangeError("no negative prices");
    };
    const line = lineHere() + 1;
    const mapped = ssc.queueStream([[1, -2]]).map((x) => (x < 0 ? boom() : x));
    mapped.foreachRDD(async (rdd) => void (await rdd.collect()));
    await ssc.start();
    clock.advance(Seconds(1));
    const error = (await rejection(ssc.awaitIdle())) as unknown as UserFunctionError;
    expect(error).toBeInstanceOf(UserFunctionError);
    expect(error.operatorId).toBe(mapped.id);
    expect(error.operatorName).toBe(`map at ${FILE}:${line} (${mapped.id})`);
    expect(error.message).toContain(
      `map at ${FILE}:${line} (${mapped.id}) threw RangeError: no negative prices`,
    );
    expect(error.message).toContain("Batch 1000 failed");
    const cause = error.cause as Error;
    expect(cause).toBeInstanceOf(RangeError);
    expect(cause.stack).toContain("boom");
    // The batch's log line names the operator by its call site too.
    const failed = lines.find((l) => l.msg.startsWith("batch failed"))!;
    expect(failed.fields.operator).toBe(error.operatorName);
    await ssc.stop();
  });

  it("names operators built by spate's own helpers (countByValue, window) by the user's line", () => {
    const ssc = new StreamingContext({ batchDuration: Seconds(1), clock: new ManualClock(0) });
    const line = lineHere() + 1;
    const counted = ssc.queueStream<string>([]).countByValue();
    counted.foreachRDD(() => {});
    expect(counted.creationSite).toBe(`${FILE}:${line}`);
    expect(counted.name).toMatch(new RegExp(`^reduceByKey at ${FILE.replace(/\./g, "\\.")}:${line} \\(`));
  });

  it("the default logger writes the user's stack (the cause) into the log line", async () => {
    const written: string[] = [];
    vi.stubEnv("SPATE_LOG_LEVEL", "error");
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: Seconds(1), clock, conf: { "spate.ui.port": 0 } });
    function parsePrice(s: string): number {
      throw new SyntaxError(`not a price: ${s}`);
    }
    ssc
      .queueStream([["x"]])
      .map(parsePrice)
      .foreachRDD(async (rdd) => void (await rdd.collect()));
    await ssc.start();
    clock.advance(Seconds(1));
    await rejection(ssc.awaitIdle());
    await ssc.stop();
    vi.restoreAllMocks();
    const line = written.find((w) => w.includes("batch failed"));
    expect(line).toBeDefined();
    expect(line).toContain("not a price: x");
    expect(line).toContain("parsePrice");
    expect(line).toContain(path.basename(FILE));
  });

  it("an output operation that throws is named by its call site", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: Seconds(1), clock, conf: { "spate.ui.port": 0 } });
    ssc.queueStream([[1]]).foreachRDD(() => {
      throw new Error("sink down");
    });
    await ssc.start();
    clock.advance(Seconds(1));
    const error = (await rejection(ssc.awaitIdle())) as unknown as UserFunctionError;
    expect(error.operatorName).toMatch(new RegExp(`^foreachRDD at ${FILE.replace(/\./g, "\\.")}:\\d+ \\(`));
    await ssc.stop();
  });
});

describe("a create function that does not return a context", () => {
  const dir = () => mkdtempSync(path.join(tmpdir(), "spate-create-"));

  for (const [label, value] of [
    ["42", 42],
    ["undefined", undefined],
    ["an object", { batchDuration: 1000 }],
  ] as const) {
    it(`getOrCreate fails with a coded error saying it returned ${label}`, async () => {
      const e = await rejection(
        StreamingContext.getOrCreate(dir(), () => value as unknown as StreamingContext),
      );
      expect(e.code).toBe("SPATE_INVALID_ARGUMENT");
      expect(e.message).toContain(
        `returned ${label === "an object" ? "an object of class Object" : label}, not a StreamingContext`,
      );
    });
  }

  it("getOrCreate takes a promise of a context", async () => {
    const ssc = await StreamingContext.getOrCreate(dir(), async () => {
      const s = new StreamingContext({ batchDuration: Seconds(1), clock: new ManualClock(0) });
      s.queueStream<number>([]).foreachRDD(() => {});
      return s;
    });
    expect(ssc).toBeInstanceOf(StreamingContext);
    await ssc.stop();
  });

  it("`spate run` of a module whose function returns 42 exits non-zero with the same coded error", async () => {
    const job = path.join(dir(), "returns-42.mjs");
    writeFileSync(job, "export default function createContext() { return 42; }\n");
    const child = runTs(["src/cli/main.ts", "run", job]);
    const code = await child.exited;
    expect(code).not.toBe(0);
    expect(child.output()).toContain("returned 42");
    expect(child.output()).toContain("[SPATE_INVALID_ARGUMENT]");
    expect(child.output()).not.toContain("Cannot read properties");
  }, 60_000);
});
