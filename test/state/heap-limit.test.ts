// The memory state store's guard: state that outgrows a small heap fails its batch with SPATE_STATE_TOO_LARGE
// (rolled back, through awaitTermination) instead of crashing the process out of memory; ordinary state, with
// garbage around it, never trips it.
import { describe, expect, it } from "vitest";
import { StateTooLargeError } from "spate";
import {
  checkStateSize,
  growthReserve,
  HEAP_USE_LIMIT,
  heapHasRoom,
  MAX_KEYS_PER_PARTITION,
  youngGenerationBytes,
} from "../../src/state/heapGuard.js";
import { runTs } from "../support/child.js";

interface Outcome {
  ok: boolean;
  code?: string;
  name?: string;
  message?: string;
  operatorId?: string;
  operatorName?: string;
  keys?: number;
  heapUsed?: number;
  heapLimit?: number;
  batchTime?: number;
  keysCommitted?: number;
  keysAfter?: number;
  created?: number;
  batches?: number;
  liveShare?: number;
}

async function run(args: string[]): Promise<{ exit: number | string; outcome: Outcome; output: string }> {
  const child = runTs(args, { SPATE_LOG_LEVEL: "silent" });
  const exit = await child.exited;
  const last = child.stdout().trim().split("\n").pop() ?? "";
  let outcome: Outcome;
  try {
    outcome = JSON.parse(last) as Outcome;
  } catch {
    throw new Error(`the job printed no outcome (exit ${exit}):\n${child.output().slice(-3000)}`);
  }
  return { exit, outcome, output: child.output() };
}

const MB = 2 ** 20;

describe("state too large for the heap", () => {
  it("fails the batch that grows state past a small heap with SPATE_STATE_TOO_LARGE, not an out-of-memory crash", async () => {
    const { exit, outcome, output } = await run([
      "--max-old-space-size=128",
      "test/state/heap-limit-job.ts",
      "grow",
      "20000",
    ]);
    expect(exit, output.slice(-3000)).toBe(0);
    expect(outcome.ok).toBe(false);
    expect(outcome.code).toBe("SPATE_STATE_TOO_LARGE");
    expect(outcome.name).toBe("StateTooLargeError");
    expect(outcome.operatorId).toBe("sessions");
    expect(outcome.operatorName).toMatch(
      /^mapWithState at test\/state\/heap-limit-job\.ts:\d+ \(sessions\)$/,
    );
    // Named, counted and measured, with what to do.
    const message = outcome.message!;
    expect(message.startsWith(`Batch ${outcome.batchTime} failed: `)).toBe(true);
    expect(message).toContain(`operator ${outcome.operatorName} holds ${outcome.keys} keys in partition 0`);
    expect(message).toContain(
      `${Math.round(outcome.heapUsed! / MB)} MB used of ${Math.round(outcome.heapLimit! / MB)} MB`,
    );
    expect(message).toContain('spate.state.backend "lmdb"');
    expect(message).toContain("more partitions");
    expect(outcome.heapLimit).toBe(128 * MB);
    expect(outcome.heapUsed).toBeLessThan(outcome.heapLimit!);
    // State filled a good part of the heap before the guard fired (about 100 bytes a key).
    expect(outcome.keys).toBeGreaterThan(200_000);
    // The batch was rolled back: the store holds what the last completed batch committed.
    expect(outcome.keysCommitted).toBeGreaterThan(0);
    expect(outcome.keysAfter).toBe(outcome.keysCommitted);
    expect(outcome.keys).toBeGreaterThan(outcome.keysCommitted!);
  }, 120_000);

  it("lets ordinary state run batch after batch with garbage around it and keys still coming", async () => {
    // State fills 30% of the heap (live, after a full collection); then 40 batches of 50k updates with garbage
    // and 2000 new keys each.
    const { exit, outcome, output } = await run([
      "--max-old-space-size=128",
      "--expose-gc",
      "test/state/heap-limit-job.ts",
      "steady",
      "10000",
      "0.3",
    ]);
    expect(exit, output.slice(-3000)).toBe(0);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true });
    expect(outcome.liveShare).toBeGreaterThanOrEqual(0.3);
    expect(outcome.keys).toBeGreaterThan(200_000);
  }, 120_000);

  it("passes state just under the guard and fails it just over", () => {
    const limit = 1000 * MB;
    for (const keys of [1000, 300_000, 5_000_000, 20_000_000]) {
      const edge = HEAP_USE_LIMIT * limit - growthReserve(keys);
      expect(heapHasRoom({ used: edge, limit }, keys)).toBe(true);
      expect(heapHasRoom({ used: edge - 1, limit }, keys)).toBe(true);
      expect(heapHasRoom({ used: edge + 1, limit }, keys)).toBe(false);
    }
    // An empty heap has room for any state's next growth that fits in it.
    expect(heapHasRoom({ used: 0, limit }, 1_000_000)).toBe(true);
  });

  it("reserves room for the store's next growth: its index doubling when near, its arrays growing by half", () => {
    // 2^19 slots, far from full: a rebuild at the same capacity (28 B a slot) and the arrays (24 B a key).
    expect(growthReserve(300_000)).toBe(28 * 2 ** 19 + 24 * 300_000);
    // Within two check intervals of full: the doubled table (56 B a slot of the current one).
    expect(growthReserve(2 ** 19 - 1000)).toBe(56 * 2 ** 19 + 24 * (2 ** 19 - 1000));
    // The primary Map at its largest table never doubles again; 30M keys: 64 overflow Maps of ~337k keys.
    expect(growthReserve(6_000_000)).toBe(24 * 6_000_000);
    expect(growthReserve(30_000_000)).toBe(28 * 2 ** 19 + 24 * 30_000_000);
  });

  it("fails a partition at the most keys a memory store can index, whatever the heap", () => {
    let error: unknown;
    try {
      checkStateSize("op", 3, MAX_KEYS_PER_PARTITION);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateTooLargeError);
    const e = error as StateTooLargeError;
    expect(e.code).toBe("SPATE_STATE_TOO_LARGE");
    expect(e.tooManyKeys).toBe(true);
    expect(e.partition).toBe(3);
    expect(e.message).toContain(`holds ${MAX_KEYS_PER_PARTITION} keys in partition 3`);
    expect(() => checkStateSize("op", 3, 1000)).not.toThrow();
  });

  it("reads the young generation's share of the heap limit from the node flags", () => {
    expect(youngGenerationBytes([])).toBe(48 * MB);
    expect(youngGenerationBytes(["--max-old-space-size=128"])).toBe(48 * MB);
    expect(youngGenerationBytes(["--max-semi-space-size=64"])).toBe(192 * MB);
    expect(youngGenerationBytes(["--max_semi_space_size", "8"])).toBe(24 * MB);
    expect(youngGenerationBytes(["--max-young-generation-size=90"])).toBe(90 * MB);
  });
});
