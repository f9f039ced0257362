// Helpers for the ports of Spark's own streaming suites (test/conformance): compare output batches the way Spark's
// TestSuiteBase does (as lists, or ignoring the order inside a batch), and run a job with several outputs.
import type { DStream, StreamingContext } from "spate";
import { expect } from "vitest";
import { runOutputs as runEach } from "./harness.js";

/**
 * A canonical text of a value, structural for arrays and plain objects. Unlike JSON, it keeps `undefined` (Spark's
 * None) apart from `null`, and bigints apart from numbers.
 */
export function canon(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "bigint") return `${v}n`;
  if (Array.isArray(v)) return `[${v.map(canon).join(",")}]`;
  if (v instanceof Set) return `Set(${[...v].map(canon).sort().join(",")})`;
  if (v !== null && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

/** One batch sorted by canonical text: equal for two batches that are equal as multisets. */
export function sorted<T>(batch: readonly T[]): T[] {
  return batch
    .map((x) => [canon(x), x] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, x]) => x);
}

/**
 * Spark's verifyOutput: as many batches as expected, and each batch equal to the expected one, as a list when
 * `ordered`, else as a multiset (order inside a batch ignored; stricter than Spark's `toSet`, which also ignores
 * duplicates).
 */
export function expectBatches<T>(actual: readonly T[][], expected: readonly T[][], ordered = false): void {
  const show = (bs: readonly T[][]) => bs.map((b) => (ordered ? b : sorted(b)));
  expect(show(actual)).toEqual(show(expected));
}

/** The integers from `from` to `to` inclusive: `range(1, 4)` is Scala's `1 to 4`. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i++) out.push(i);
  return out;
}

/**
 * Runs one queue stream fed with `input` (one array per batch) through `build`, which returns named streams; each is
 * registered as an output, in order, and collected batch by batch. Like harness.ts's runOperation, on a ManualClock
 * with 1 s batches; `numBatches` defaults to the number of input batches.
 */
export async function runOutputs<I, R extends Record<string, DStream<any>>>(
  input: I[][],
  build: (stream: DStream<I>, ssc: StreamingContext) => R,
  options: { numBatches?: number; conf?: Record<string, string | number | boolean> } = {},
): Promise<{ [K in keyof R]: R[K] extends DStream<infer O> ? O[][] : never } & { times: number[] }> {
  const out = await runEach(
    options.numBatches ?? input.length,
    (ssc) => build(ssc.queueStream(input.map((b) => [...b])), ssc),
    { conf: options.conf },
  );
  const names = Object.keys(out);
  const result: Record<string, unknown> = { times: [...out[names[0]!]!.keys()] };
  for (const name of names) result[name] = [...out[name]!.values()];
  return result as never;
}
