// Rescalable state. A job with updateStateByKey, mapWithState with timeouts and an inverse window runs as a child
// process with parallelism 4, then 2, then 3, and with other partition counts for mapWithState and the window at
// each restart, SIGKILLed between runs (once during recovery): every batch's outputs equal those of a run that
// never failed. A changed spate.state.maxParallelism is refused; `spate checkpoint inspect` shows the partitioning.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type DStream, ManualClock, type SpateError, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { type Child, root, runTs } from "../support/child.js";
import { rejection } from "../support/rejection.js";
import { BATCH, build } from "./rescale-graph.js";

const JOB = "test/recovery/rescale-job.ts";
const OUTPUTS = ["totals", "timeouts", "sessions", "window"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  parallelism: number;
  sessions?: number;
  window?: number;
}

function readBatches(dir: string, name: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const d of readdirSync(dir).filter((n) => n.startsWith(`${name}-`))) {
    const files = readdirSync(path.join(dir, d));
    if (!files.includes("_SUCCESS")) continue;
    const lines = files
      .filter((f) => f.startsWith("part-"))
      .flatMap((f) =>
        readFileSync(path.join(dir, d, f), "utf8")
          .split("\n")
          .filter((l) => l !== ""),
      );
    out.set(Number(d.slice(name.length + 1)), lines.sort());
  }
  return out;
}

/** The same graph over the same batches, in one process that never fails: outputs by batch index (1-based). */
async function reference(inputs: string[][]): Promise<Map<string, Map<number, string[]>>> {
  const ssc = new StreamingContext({ batchDuration: BATCH, clock: new ManualClock(0) });
  const outputs = new Map<string, Map<number, string[]>>(OUTPUTS.map((n) => [n, new Map()]));
  build(ssc.queueStream(inputs.map((b) => [...b])), {}, (name, stream: DStream<unknown>) =>
    stream.foreachRDD(async (rdd, t) => {
      outputs
        .get(name)!
        .set(t / BATCH, (await rdd.collect()).map((r) => `(${(r as unknown[]).join(",")})`).sort());
    }),
  );
  await ssc.start();
  for (let k = 1; k <= inputs.length; k++) {
    (ssc.clock as ManualClock).setTime(k * BATCH);
    await ssc.awaitIdle();
  }
  await ssc.stop();
  return outputs;
}

describe("rescalable state", () => {
  it("restores across parallelism 4 -> 2 -> 3 and changed numPartitions, with SIGKILLs, as a run that never failed", {
    timeout: 180_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-rescale-"));
    const dirs = {
      checkpoint: path.join(base, "checkpoint"),
      input: path.join(base, "input"),
      output: path.join(base, "output"),
    };
    for (const d of [dirs.input, dirs.output]) mkdirSync(d, { recursive: true });
    let seed = Number(process.env.SPATE_RESCALE_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`rescale test seed: ${seed}`);
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    let files = 0;
    const writeFile = () => {
      const name = `f${String(files++).padStart(5, "0")}`;
      const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => {
        const words = Array.from(
          { length: 1 + Math.floor(random() * 5) },
          () => `w${Math.floor(random() * 30)}`,
        );
        return `${name}:${i} ${words.join(" ")}`;
      });
      writeFileSync(path.join(dirs.input, `.${name}`), `${lines.join("\n")}\n`);
      renameSync(path.join(dirs.input, `.${name}`), path.join(dirs.input, name));
    };
    const spawnJob = (run: Run, mode: "crash" | "final"): Child =>
      runTs(
        [
          JOB,
          dirs.checkpoint,
          dirs.input,
          dirs.output,
          String(run.parallelism),
          String(run.sessions ?? "-"),
          String(run.window ?? "-"),
          mode,
        ],
        { SPATE_LOG_LEVEL: "info" },
      );
    const logs: string[] = [];
    const listing = () => (existsSync(dirs.checkpoint) ? readdirSync(dirs.checkpoint) : []);
    // Whether the run started after `before` was listed wrote a full snapshot of every stateful operator and a
    // metadata checkpoint that points at them (metadata is written after the state files of its batch). Names may
    // carry the owner's epoch before the batch time.
    const checkpointedAll = (before: Set<string>) => () => {
      const names = listing();
      const times = ["totals", "sessions", "window"].map((op) =>
        Math.max(
          ...names
            .filter((n) => n.startsWith(`state-${op}-`) && n.endsWith(".full") && !before.has(n))
            .map((n) => Number(n.slice(-21, -5))),
        ),
      );
      const newest = Math.max(...times);
      return (
        times.every((t) => t > 0) &&
        names.some((n) => Number(/^metadata-(?:e\d+-)?(\d{16})-1$/.exec(n)?.[1]) >= newest)
      );
    };
    // Input keeps arriving, with pauses, so that mapWithState keys time out during the runs too.
    let writing = true;
    const writer = (async () => {
      while (writing) {
        writeFile();
        await sleep(random() < 0.1 ? 1000 : 70);
      }
    })();
    try {
      // Run 1: parallelism 4 everywhere, killed once it checkpointed every operator's state.
      const first = spawnJob({ parallelism: 4 }, "crash");
      await first.until((o) => o.includes("started"), 60_000);
      await first.until(checkpointedAll(new Set()), 60_000);
      await sleep(random() * 600);
      await first.stop("SIGKILL");
      logs.push(first.output());
      // Run 2: parallelism 2, mapWithState in 5 partitions; killed during its recovery, then again once it
      // checkpointed every operator's state in its own partitioning.
      const second: Run = { parallelism: 2, sessions: 5 };
      const early = spawnJob(second, "crash");
      await sleep(300 + random() * 900);
      await early.stop("SIGKILL");
      logs.push(early.output());
      const before = new Set(listing());
      const again = spawnJob(second, "crash");
      await again.until((o) => o.includes("started"), 60_000);
      await again.until(checkpointedAll(before), 60_000);
      await sleep(random() * 600);
      await again.stop("SIGKILL");
      logs.push(again.output());
      // Run 3: parallelism 3, mapWithState in 2 partitions, the window in 1; stopped gracefully at the end.
      const final = spawnJob({ parallelism: 3, sessions: 2, window: 1 }, "final");
      await final.until((o) => o.includes("started"), 60_000);
      await sleep(1500);
      writing = false;
      await writer;
      await sleep(6 * BATCH);
      final.process.stdin!.write("stop\n");
      expect(await final.exited).toBe(0);
      logs.push(final.output());
    } finally {
      writing = false;
      await writer;
    }

    // The restarts redistributed state, and said so.
    const all = logs.join("");
    expect(all).toMatch(/state redistributed from 4 to 2 partitions/);
    expect(all).toMatch(/state redistributed from 4 to 5 partitions/);
    expect(all).toMatch(/state redistributed from 2 to 3 partitions/);
    expect(all).toMatch(/state redistributed from 5 to 2 partitions/);
    expect(all).toMatch(/state redistributed from 2 to 1 partitions/);

    // Every batch time from the first to the last ran (down time included), with its recorded input.
    const inputs = readBatches(dirs.output, "input");
    const times = [...inputs.keys()].sort((a, b) => a - b);
    const zero = times[0]! - BATCH;
    const last = times.at(-1)!;
    expect(times).toEqual(Array.from({ length: (last - zero) / BATCH }, (_, i) => zero + (i + 1) * BATCH));
    const lines = times.map((t) => inputs.get(t)!);
    expect(lines.flat().length).toBe(new Set(lines.flat()).size);
    const expected = await reference(lines);
    for (const name of OUTPUTS) {
      const got = readBatches(dirs.output, name);
      expect(got.size, name).toBe(times.length);
      for (const [t, out] of got)
        expect(out, `${name} at batch ${(t - zero) / BATCH}`).toEqual(
          expected.get(name)!.get((t - zero) / BATCH),
        );
    }
    // Timeouts happened, so the test covers their bookkeeping across rescaling.
    expect([...readBatches(dirs.output, "timeouts").values()].flat().length).toBeGreaterThan(0);

    // `spate checkpoint inspect` shows the partitioning of the last run.
    const inspected = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "checkpoint", "inspect", "--json", dirs.checkpoint],
      { cwd: root, encoding: "utf8" },
    );
    expect(inspected.status, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout) as {
      newest: {
        maxParallelism: number;
        operators: Array<{ id: string; partitioning?: { numPartitions: number; maxParallelism?: number } }>;
      };
    };
    expect(report.newest.maxParallelism).toBe(128);
    const byId = new Map(report.newest.operators.map((o) => [o.id, o.partitioning]));
    expect(byId.get("totals")).toMatchObject({ numPartitions: 3, maxParallelism: 128 });
    expect(byId.get("sessions")).toMatchObject({ numPartitions: 2, maxParallelism: 128 });
    expect(byId.get("window")).toMatchObject({ numPartitions: 1, maxParallelism: 128 });
    const human = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", "checkpoint", "inspect", dirs.checkpoint],
      { cwd: root, encoding: "utf8" },
    );
    expect(human.stdout).toMatch(
      /totals\s+updateStateByKey\s+state at \d+: .*3 partitions of 128 key groups \(0-42, 43-85, 86-127\)/,
    );
  });

  it("refuses a changed spate.state.maxParallelism with SPATE_GRAPH_MISMATCH naming it", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-rescale-"));
    const input = path.join(base, "input");
    mkdirSync(input);
    const checkpoint = path.join(base, "checkpoint");
    const create = (conf: Record<string, number>) => () => {
      const ssc = new StreamingContext({ batchDuration: BATCH, clock: new ManualClock(0), conf });
      build(ssc.textFileStream(input), {}, (_name, stream) => stream.foreachRDD(() => {}));
      return ssc;
    };
    const ssc = await StreamingContext.getOrCreate(checkpoint, create({ "spate.default.parallelism": 4 }));
    await ssc.start();
    for (let k = 1; k <= 4; k++) {
      writeFileSync(path.join(input, `f${k}`), `x a b a\nx c ${k}\n`);
      (ssc.clock as ManualClock).setTime(k * BATCH);
      await ssc.awaitIdle();
    }
    await ssc.stop();
    const error = (await rejection(
      StreamingContext.getOrCreate(checkpoint, create({ "spate.state.maxParallelism": 256 })),
    )) as SpateError;
    expect(error.code).toBe("SPATE_GRAPH_MISMATCH");
    expect(error.message).toContain("spate.state.maxParallelism 128");
    expect(error.message).toContain("now has 256");
    // The same key groups restore into any partition count up to them.
    const resumed = await StreamingContext.getOrCreate(
      checkpoint,
      create({ "spate.state.maxParallelism": 128, "spate.default.parallelism": 7 }),
    );
    await resumed.start();
    await resumed.stop();
    // More partitions than key groups is refused when the job is built.
    expect(() => create({ "spate.state.maxParallelism": 4, "spate.default.parallelism": 8 })()).toThrow(
      /more partitions \(8\) than key groups/,
    );
  });
});
