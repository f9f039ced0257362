// Bounded memory (ARCHITECTURE.md, invariant 7), tested long enough to see a leak: every stateful operator, fed by
// each source, with checkpointing on (the queue cannot be checkpointed), runs thousands of batches on a ManualClock
// in a child process started with --expose-gc. Once the key space is full, the heap after a forced collection, the
// newest metadata checkpoint and the UI's batch history must stop growing: their slope over the second half of the
// run is compared with a bound far below what a leak of one small object per batch gives.
import { describe, expect, it } from "vitest";
import { runTs } from "../support/child.js";
import { OPERATORS, type SoakOptions, type SoakSample, type SoakSource } from "./soak-job.js";
import { slope } from "./slope.js";

const BATCHES = 2000;
const SAMPLE_EVERY = 50;
/** Heap growth per batch allowed over the second half (a chain of windows kept alive costs ~27 kB a batch). */
const HEAP_BYTES_PER_BATCH = 100;
const RETAINED = 100;
const SOURCES: SoakSource[] = ["queue", "files", "receiver"];

async function soak(source: SoakSource): Promise<SoakSample[]> {
  const options: SoakOptions = {
    source,
    operators: [...OPERATORS],
    batches: BATCHES,
    sampleEvery: SAMPLE_EVERY,
    keys: 1000,
    wordsPerBatch: 50,
    ui: true,
  };
  // Without the optimizing compilers: machine code V8 generates as more functions get hot is not what this test
  // is about, and it keeps growing for thousands of batches before it levels off (bench/soak.ts measures the
  // process as it normally runs, for 100k batches).
  const flags = ["--expose-gc", "--no-opt", "--no-sparkplug", "--no-flush-bytecode"];
  const child = runTs([...flags, "test/soak/soak-job.ts", JSON.stringify(options)], {
    SPATE_LOG_LEVEL: "warn",
  });
  const code = await child.exited;
  if (code !== 0) throw new Error(`the ${source} soak exited with ${code}:\n${child.output()}`);
  return child
    .stdout()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as SoakSample);
}

describe("memory stays bounded over thousands of batches", () => {
  const runs = new Map<SoakSource, Promise<SoakSample[]>>();
  const run = (source: SoakSource) => {
    if (!runs.has(source)) runs.set(source, soak(source));
    return runs.get(source)!;
  };

  for (const source of SOURCES) {
    it(`${source}: heap, metadata checkpoints and the UI's history stop growing`, {
      timeout: 240_000,
    }, async () => {
      // Started together: the three children share the machine's cores.
      for (const s of SOURCES) void run(s).catch(() => {});
      const samples = await run(source);
      expect(samples.length).toBe(BATCHES / SAMPLE_EVERY);
      const secondHalf = samples.filter((s) => s.batch > BATCHES / 2);
      const heapSlope = slope(secondHalf.map((s) => [s.batch, s.heap]));
      expect(heapSlope, `heap grows ${heapSlope.toFixed(0)} bytes a batch`).toBeLessThan(
        HEAP_BYTES_PER_BATCH,
      );
      if (source !== "queue") {
        const metaSlope = slope(secondHalf.map((s) => [s.batch, s.metadataBytes]));
        expect(metaSlope, `metadata checkpoints grow ${metaSlope.toFixed(2)} bytes a batch`).toBeLessThan(1);
        expect(Math.min(...secondHalf.map((s) => s.metadataBytes))).toBeGreaterThan(0);
      }
      for (const s of samples) expect(s.uiBatches).toBe(Math.min(s.batch, RETAINED));
    });
  }
});
