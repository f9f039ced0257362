// Reference models for the property tests: the obvious, slow computation of what each operation means, batch by
// batch, written from Spark Streaming's semantics with no engine code. Batch i of an input (0-based) has time
// (i + 1) * BATCH; zero time is 0, so a stream with slide `slide` outputs at the multiples of `slide`.
export const BATCH = 1000;

/** The times of the output batches of a stream with this slide over `numBatches` batches. */
export function outputTimes(numBatches: number, slide: number): number[] {
  const times: number[] = [];
  for (let t = slide; t <= numBatches * BATCH; t += slide) times.push(t);
  return times;
}

/** The input batches in the window ending at `t`: batch times in (t - window, t]. */
export function windowAt<T>(input: T[][], t: number, window: number): T[] {
  const out: T[] = [];
  input.forEach((batch, i) => {
    const time = (i + 1) * BATCH;
    if (time > t - window && time <= t) out.push(...batch);
  });
  return out;
}

export function sumByKey(pairs: Array<[string, number]>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of pairs) m.set(k, (m.get(k) ?? 0) + v);
  return m;
}

/**
 * `reduceByKeyAndWindow(+, -, window, slide, _, filterFn)` as Spark's ReducedWindowedDStream computes it: each
 * window is the previous window's result, with every key it held kept (at the sum of its values now in the
 * window, 0 when none is), plus the keys that entered; then `filterFn`, whose result is the next window's start.
 */
export function inverseWindowedSums(
  input: Array<Array<[string, number]>>,
  numBatches: number,
  window: number,
  slide: number,
  filterFn?: (kv: [string, number]) => boolean,
): Array<Array<[string, number]>> {
  let previous = new Map<string, number>();
  return outputTimes(numBatches, slide).map((t) => {
    const sums = sumByKey(windowAt(input, t, window));
    const keys = new Set([...previous.keys(), ...sums.keys()]);
    let out: Array<[string, number]> = [...keys].map((k) => [k, sums.get(k) ?? 0]);
    if (filterFn) out = out.filter(filterFn);
    previous = new Map(out);
    return out;
  });
}

/** What the mapping function of the mapWithState properties emits. */
export type Emitted = [string, string, number | null];

/**
 * The mapping function of the mapWithState properties, on plain values: a value of 0 removes the key's state, a
 * negative value only reads it, a positive one adds to it. Returns the new state (undefined: none) and what it
 * emits (undefined: nothing, for reads of a missing key).
 */
export function step(
  state: number | undefined,
  value: number,
): { state: number | undefined; emit: Emitted[1] | undefined } {
  if (value === 0) return { state: undefined, emit: state === undefined ? undefined : "removed" };
  if (value < 0) return { state, emit: state === undefined ? undefined : "read" };
  return { state: (state ?? 0) + value, emit: "updated" };
}

/**
 * mapWithState as a fold over a Map, per API.md: the function runs once per record, in order; a key's idle clock
 * is reset by every batch in which its function ran and its state still exists (the initial state counts as reset
 * at the first batch); a key times out in the first batch t with t - lastReset > timeout, after the batch's
 * records, with the function called once more (emitting "timeout") and its state removed.
 */
export function mapWithStateModel(
  input: Array<Array<[string, number]>>,
  numBatches: number,
  options: { timeout?: number; initial?: Array<[string, number]> },
): { emitted: Emitted[][]; snapshots: Array<Array<[string, number]>> } {
  const state = new Map<string, number>();
  const lastReset = new Map<string, number>();
  for (const [k, s] of options.initial ?? []) {
    state.set(k, s);
    lastReset.set(k, BATCH);
  }
  const emitted: Emitted[][] = [];
  const snapshots: Array<Array<[string, number]>> = [];
  for (let i = 0; i < numBatches; i++) {
    const t = (i + 1) * BATCH;
    const out: Emitted[] = [];
    const touched = new Set<string>();
    for (const [k, v] of input[i] ?? []) {
      const r = step(state.get(k), v);
      if (r.state === undefined) state.delete(k);
      else state.set(k, r.state);
      touched.add(k);
      if (r.emit !== undefined) out.push([k, r.emit, r.state ?? null]);
    }
    for (const k of touched) {
      if (state.has(k)) lastReset.set(k, t);
      else lastReset.delete(k);
    }
    if (options.timeout !== undefined) {
      for (const [k, s] of [...state]) {
        if (touched.has(k)) continue;
        if (t - lastReset.get(k)! > options.timeout) {
          out.push([k, "timeout", s]);
          state.delete(k);
          lastReset.delete(k);
        }
      }
    }
    emitted.push(out);
    snapshots.push([...state]);
  }
  return { emitted, snapshots };
}

/**
 * updateStateByKey as a fold, as Spark's StateDStream: every batch, the function runs for every key held or
 * with new values (with [] for a key without), its result replaces the state, undefined removes it; the output is
 * the whole state. The function: a 0 among the values removes the key, otherwise the values are added.
 */
export function updateStateModel(
  input: Array<Array<[string, number]>>,
  numBatches: number,
  initial: Array<[string, number]> = [],
): Array<Array<[string, number]>> {
  const state = new Map<string, number>(initial);
  const out: Array<Array<[string, number]>> = [];
  for (let i = 0; i < numBatches; i++) {
    const values = new Map<string, number[]>();
    for (const [k, v] of input[i] ?? []) {
      const vs = values.get(k);
      if (vs) vs.push(v);
      else values.set(k, [v]);
    }
    for (const k of new Set([...state.keys(), ...values.keys()])) {
      const next = update(values.get(k) ?? [], state.get(k));
      if (next === undefined) state.delete(k);
      else state.set(k, next);
    }
    out.push([...state]);
  }
  return out;
}

/** The update function of the updateStateByKey properties. */
export function update(values: number[], state: number | undefined): number | undefined {
  if (values.includes(0)) return undefined;
  return values.reduce((a, b) => a + b, state ?? 0);
}
