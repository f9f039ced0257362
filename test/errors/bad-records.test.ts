// spate.errors.onRecordFailure: a record whose per-record function throws fails the batch ("fail"), or is dropped,
// counted and logged ("skip"), or also written to a dead-letter folder ("deadLetter").
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  type BatchInfo,
  type DStream,
  type Logger,
  ManualClock,
  Seconds,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";
import { describe, expect, it } from "vitest";
import { rejection } from "../support/rejection.js";
import { freePort, parseMetrics } from "../ui/support.js";

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}

function setup(conf: Record<string, string | number | boolean> = {}) {
  const lines: Line[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    void lines.push({ level, fields, msg });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({
    batchDuration: Seconds(1),
    clock,
    logger,
    conf: { "spate.ui.port": 0, ...conf },
  });
  const batches: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ batchInfo }) => void batches.push(batchInfo) });
  return { ssc, clock, lines, batches };
}

const bad = (x: number): never => {
  throw new RangeError(`bad record ${x}`);
};

/** Collects every batch of `stream`, in order. */
function collect<T>(stream: DStream<T>): T[][] {
  const out: T[][] = [];
  stream.foreachRDD(async (rdd) => void out.push(await rdd.collect()));
  return out;
}

async function run(ssc: StreamingContext, clock: ManualClock, batches: number): Promise<void> {
  await ssc.start();
  for (let i = 0; i < batches; i++) clock.advance(Seconds(1));
  await ssc.awaitIdle();
}

describe('"skip"', () => {
  it("drops the records each per-record function throws on, counts and logs them, and the batch goes on", async () => {
    const { ssc, clock, lines, batches } = setup({ "spate.errors.onRecordFailure": "skip" });
    const input = ssc.queueStream([[1, 2, 3, 4, 5, 6]]);
    const mapped = input.map((x) => (x === 2 ? bad(x) : x));
    const filtered = mapped.filter((x) => (x === 3 ? bad(x) : true));
    const flat = filtered.flatMap((x) => (x === 4 ? bad(x) : [x]));
    const pairs = flat.map((x) => [x % 2, x] as [number, number]);
    const values = pairs.mapValues((v) => (v === 5 ? bad(v) : v));
    const flatValues = values.flatMapValues((v) => [v]);
    const reduced = flatValues.reduceByKey((a, b) => (b === 6 ? bad(b) : a + b));
    const out = collect(reduced);
    await run(ssc, clock, 1);
    // 2, 3, 4 and 5 are dropped on the way: keys 1 -> [1] and 0 -> [6] reach reduceByKey.
    expect(out[0]!.sort()).toEqual([
      [0, 6],
      [1, 1],
    ]);
    const b = batches[0]!;
    expect(b.failureReason).toBeUndefined();
    expect(b.numRecordsFailed).toBe(4);
    expect(b.recordsFailedByOperator).toEqual({
      [mapped.id]: 1,
      [filtered.id]: 1,
      [flat.id]: 1,
      [values.id]: 1,
    });
    const dropped = lines.filter((l) => l.msg.startsWith("record dropped"));
    expect(dropped).toHaveLength(4);
    const first = dropped[0]!;
    expect(first.level).toBe("warn");
    expect(first.fields.batchTime).toBe(1000);
    expect(first.fields.operatorId).toBe(mapped.id);
    expect(first.fields.operator).toBe(mapped.name);
    expect(String(first.fields.operator)).toMatch(/^map at test\/errors\/bad-records\.test\.ts:\d+ \(map-/);
    expect((first.fields.error as Error).message).toBe("bad record 2");
    expect(first.fields.record).toBe("2");
    await ssc.stop();
  });

  it("counts, logs and dead-letters a record once when its stream is computed again by several outputs", async () => {
    const letters = path.join(mkdtempSync(path.join(tmpdir(), "spate-dl-twice-")), "letters");
    const { ssc, clock, lines, batches } = setup({
      "spate.errors.onRecordFailure": "deadLetter",
      "spate.errors.deadLetter.dir": letters,
    });
    const mapped = ssc.queueStream([[1, 2, 3, 2]]).map((x) => (x === 2 ? bad(x) : x));
    const a = collect(mapped);
    const b = collect(mapped.map((x) => x * 10));
    await run(ssc, clock, 1);
    await ssc.stop();
    expect([a[0], b[0]]).toEqual([
      [1, 3],
      [10, 30],
    ]);
    expect(batches[0]!.numRecordsFailed).toBe(2);
    expect(lines.filter((l) => l.msg.startsWith("record dropped"))).toHaveLength(2);
    const [file] = readdirSync(letters);
    expect(readFileSync(path.join(letters, file!), "utf8").trimEnd().split("\n")).toHaveLength(2);
  });

  it("drops a value a reduce function throws on: its key keeps what it had", async () => {
    const { ssc, clock, batches } = setup({ "spate.errors.onRecordFailure": "skip" });
    const reduced = ssc
      .queueStream([[1, 2, 3, 10]])
      .map((x) => ["k", x] as [string, number])
      .reduceByKey((a, b) => (b === 3 ? bad(b) : a + b));
    const out = collect(reduced);
    await run(ssc, clock, 1);
    expect(out[0]).toEqual([["k", 13]]);
    expect(batches[0]!.numRecordsFailed).toBe(1);
    await ssc.stop();
  });

  it("mapWithState: a record the function throws on leaves its key's state as before that record", async () => {
    const { ssc, clock, batches } = setup({ "spate.errors.onRecordFailure": "skip" });
    const spec = StateSpec.function((key: string, v: number | undefined, state: State<number>) => {
      const next = (state.getOption() ?? 0) + v!;
      state.update(next); // updated before throwing: the update must not stick
      if (v === 100) throw new RangeError("too large");
      return [key, next] as [string, number];
    });
    const counts = ssc
      .queueStream([
        [
          ["a", 1],
          ["a", 100],
          ["a", 2],
        ],
        [["a", 3]],
      ] as Array<Array<[string, number]>>)
      .mapWithState(spec);
    const snapshots = collect(counts.stateSnapshots());
    const out = collect(counts);
    await run(ssc, clock, 2);
    expect(out).toEqual([
      [
        ["a", 1],
        ["a", 3],
      ],
      [["a", 6]],
    ]);
    expect(snapshots[0]).toEqual([["a", 3]]);
    expect(batches.map((b) => b.numRecordsFailed)).toEqual([1, undefined]);
    await ssc.stop();
  });

  it("updateStateByKey: a key whose function throws keeps the state it had before the batch", async () => {
    const { ssc, clock } = setup({ "spate.errors.onRecordFailure": "skip" });
    const totals = ssc
      .queueStream([
        [
          ["a", 1],
          ["b", 1],
        ],
        [
          ["a", -5],
          ["b", 2],
        ],
        [["a", 4]],
      ] as Array<Array<[string, number]>>)
      .updateStateByKey((values: number[], state: number | undefined) => {
        if (values.some((v) => v < 0)) throw new RangeError("negative");
        return values.reduce((x, y) => x + y, state ?? 0);
      });
    const out = collect(totals);
    await run(ssc, clock, 3);
    const sorted = out.map((b) => b.slice().sort());
    expect(sorted).toEqual([
      [
        ["a", 1],
        ["b", 1],
      ],
      [
        ["a", 1],
        ["b", 3],
      ],
      [
        ["a", 5],
        ["b", 3],
      ],
    ]);
    await ssc.stop();
  });

  it("mapPartitions and foreachRDD still fail the batch (they run per partition or batch, not per record)", async () => {
    for (const build of [
      (s: DStream<number>) => collect(s.mapPartitions((xs) => xs.map((x) => (x === 2 ? bad(x) : x)))),
      (s: DStream<number>) =>
        s.foreachRDD(() => {
          throw new Error("sink down");
        }),
    ]) {
      const { ssc, clock } = setup({ "spate.errors.onRecordFailure": "skip" });
      build(ssc.queueStream([[1, 2]]));
      await ssc.start();
      clock.advance(Seconds(1));
      expect((await rejection(ssc.awaitIdle())).code).toBe("SPATE_USER_FUNCTION_FAILED");
      await ssc.stop();
    }
  });

  it('"fail" (the default) fails the batch on the first bad record', async () => {
    const { ssc, clock } = setup();
    collect(ssc.queueStream([[1, 2]]).map((x) => (x === 2 ? bad(x) : x)));
    await ssc.start();
    clock.advance(Seconds(1));
    const e = await rejection(ssc.awaitIdle());
    expect(e.code).toBe("SPATE_USER_FUNCTION_FAILED");
    expect(e.message).toContain("spate.errors.onRecordFailure");
    await ssc.stop();
  });

  it("rejects any other policy", () => {
    let code: string | undefined;
    try {
      setup({ "spate.errors.onRecordFailure": "ignore" });
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe("SPATE_INVALID_CONF");
  });

  it("counts dropped records in /metrics by operator and in the UI's statistics", async () => {
    const port = await freePort();
    const { ssc, clock } = setup({ "spate.errors.onRecordFailure": "skip", "spate.ui.port": port });
    const mapped = ssc
      .queueStream([
        [1, 2, 3],
        [2, 2],
      ])
      .map((x) => (x === 2 ? bad(x) : x));
    collect(mapped);
    await run(ssc, clock, 2);
    const metrics = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const failed = metrics.filter((m) => m.name === "spate_streaming_records_failed_total");
    expect(failed.map((m) => [m.labels.operator, m.value])).toEqual([[mapped.id, 3]]);
    const stats = (await (await fetch(`http://127.0.0.1:${port}/api/v1/streaming/statistics`)).json()) as {
      numFailedRecords: number;
    };
    expect(stats.numFailedRecords).toBe(3);
    // The page says so too, rendered on the server.
    const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(page).toMatch(/Records dropped<\/div><div class="value">3</);
    await ssc.stop();
  });
});

describe('"deadLetter"', () => {
  it("writes each dropped record and its error as a JSON line, one file per batch, in <checkpoint>/dead-letters", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-dead-letters-"));
    const input = mkdtempSync(path.join(tmpdir(), "spate-dead-letters-input-"));
    const { ssc, clock, batches } = setup({ "spate.errors.onRecordFailure": "deadLetter" });
    ssc.checkpoint(dir);
    const parsed = ssc.textFileStream(input).map((line) => {
      const n = Number(line);
      if (Number.isNaN(n)) throw new SyntaxError(`not a number: ${line}`);
      return n;
    });
    const out = collect(parsed);
    await ssc.start();
    writeFileSync(path.join(input, "a.txt"), "1\nx\n2\n{\n");
    clock.advance(Seconds(1));
    await ssc.awaitIdle();
    clock.advance(Seconds(1));
    await ssc.awaitIdle();
    await ssc.stop();
    expect(out.flat()).toEqual([1, 2]);
    const failedBatch = batches.find((b) => b.numRecordsFailed)!;
    const letters = path.join(dir, "dead-letters");
    expect(readdirSync(letters)).toEqual([`batch-${String(failedBatch.batchTime).padStart(16, "0")}.jsonl`]);
    const lines = readFileSync(path.join(letters, readdirSync(letters)[0]!), "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      {
        batchTime: failedBatch.batchTime,
        operatorId: parsed.id,
        operator: parsed.name,
        error: { name: "SyntaxError", message: "not a number: x" },
        record: "x",
      },
      {
        batchTime: failedBatch.batchTime,
        operatorId: parsed.id,
        operator: parsed.name,
        error: { name: "SyntaxError", message: "not a number: {" },
        record: "{",
      },
    ]);
  });

  it("writes to spate.errors.deadLetter.dir, which is required without a checkpoint folder", async () => {
    const { ssc } = setup({ "spate.errors.onRecordFailure": "deadLetter" });
    collect(ssc.queueStream([[1]]));
    const e = await rejection(ssc.start());
    expect(e.code).toBe("SPATE_INVALID_CONF");
    expect(e.message).toContain("spate.errors.deadLetter.dir");

    const letters = path.join(mkdtempSync(path.join(tmpdir(), "spate-dl-")), "letters");
    const other = setup({
      "spate.errors.onRecordFailure": "deadLetter",
      "spate.errors.deadLetter.dir": letters,
    });
    collect(other.ssc.queueStream([[1, 2]]).map((x) => (x === 2 ? bad(x) : x)));
    await run(other.ssc, other.clock, 1);
    await other.ssc.stop();
    const [file] = readdirSync(letters);
    expect(file).toBe(`batch-${String(1000).padStart(16, "0")}.jsonl`);
    expect(JSON.parse(readFileSync(path.join(letters, file!), "utf8"))).toMatchObject({
      record: 2,
      error: { message: "bad record 2" },
    });
  });
});
