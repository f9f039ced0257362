// The graphs of the property tests, built from plain data (the parameters fast-check drew) by the functions of this
// module: a test runs a case by name with its parameters (test/support/caseJob.ts), so a worker thread can rebuild
// the same graph by importing this module.
import { type DStream, type State, StateSpec } from "spate";
import type { ParameterizedCases } from "../support/caseJob.js";
import { type Emitted, step, update } from "./model.js";

type KV = [string, number];

const notZero = (kv: KV) => kv[1] !== 0;

/**
 * Calls of the updateStateByKey function, `[batch time, key, number of values]`, as the in-process run records
 * them (read by the test that checks the function ran once for every key held or given values).
 */
export const updateCalls: Array<[number, string, number]> = [];

export const parameterized: ParameterizedCases = {
  "mapWithState fold": (p: {
    timeout: number | undefined;
    initial: KV[] | undefined;
    numPartitions: number;
  }) => {
    return (kvs: DStream<KV>) => {
      const spec = StateSpec.function(
        (k: string, v: number | undefined, state: State<number>): Emitted | undefined => {
          // A timing-out call has no value; one with a value would show as a different emission.
          if (state.isTimingOut())
            return [k, v === undefined ? "timeout" : "timeout with a value", state.get()];
          const r = step(state.getOption(), v!);
          if (r.state === undefined) {
            if (state.exists()) state.remove();
          } else if (r.state !== state.getOption()) state.update(r.state);
          return r.emit === undefined ? undefined : [k, r.emit, r.state ?? null];
        },
      ).numPartitions(p.numPartitions);
      if (p.timeout !== undefined) spec.timeout(p.timeout);
      if (p.initial) spec.initialState(p.initial.map((kv) => [...kv] as KV));
      const mapped = kvs.mapWithState(spec);
      return { mapped, snapshots: mapped.stateSnapshots() };
    };
  },
  "mapWithState lists": (numPartitions: number) => (kvs: DStream<KV>) => ({
    lists: kvs
      .mapWithState(
        StateSpec.function((_k: string, v: number | undefined, state: State<number[]>) => {
          state.update([...(state.getOption() ?? []), v!]);
        }).numPartitions(numPartitions),
      )
      .stateSnapshots(),
  }),
  updateStateByKey:
    (p: { numPartitions: number | undefined; initial: KV[] | undefined }) => (kvs: DStream<KV>) => ({
      state: kvs.updateStateByKey(
        (values: number[], state: number | undefined, k: string, time: number) => {
          updateCalls.push([time, k, values.length]);
          return update(values, state);
        },
        { numPartitions: p.numPartitions, initialState: p.initial?.map((kv) => [...kv] as KV) },
      ),
    }),
  windows: (p: { window: number; slide: number; numPartitions: number }) => (kvs: DStream<KV>) => {
    const { window, slide, numPartitions } = p;
    const nums = kvs.map(([, v]) => v);
    return {
      window: nums.window(window, slide),
      countByWindow: nums.countByWindow(window, slide),
      reduceByWindow: nums.reduceByWindow((a, b) => a + b, window, slide),
      reduceByWindowInv: nums.reduceByWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        window,
        slide,
      ),
      countByValueAndWindow: nums.countByValueAndWindow(window, slide, numPartitions),
      reduceByKeyAndWindow: kvs.reduceByKeyAndWindow((a, b) => a + b, window, slide, numPartitions),
      reduceByKeyAndWindowInv: kvs.reduceByKeyAndWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        window,
        slide,
        numPartitions,
      ),
      reduceByKeyAndWindowInvFilter: kvs.reduceByKeyAndWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        window,
        slide,
        numPartitions,
        notZero,
      ),
      groupByKeyAndWindow: kvs
        .groupByKeyAndWindow(window, slide, numPartitions)
        .map(([k, vs]) => [k, [...vs].sort()] as [string, number[]]),
    };
  },
};

/** One stage of a random pipeline over `[key, value]` pairs, as plain data. */
export type Stage =
  | { kind: "scale"; k: number }
  | { kind: "rekey"; m: number }
  | { kind: "filter"; m: number }
  | { kind: "dup" }
  | { kind: "repartition"; n: number }
  | { kind: "reduceByKey"; partitions: number }
  | { kind: "selfJoin"; partitions: number }
  | { kind: "window"; windowBatches: number; inverse: boolean; partitions: number }
  | { kind: "mapWithState"; partitions: number; timeoutBatches: number | undefined }
  | { kind: "updateStateByKey"; partitions: number };

const add = (a: number, b: number) => a + b;

/**
 * A pipeline's graph: its stages in order over the input stream; the last stream is output `out`, and each stateful
 * stage's state (mapWithState's snapshots, updateStateByKey's stream) is output `state<i>` too.
 */
export function buildPipeline(stages: Stage[], batch: number) {
  return (input: DStream<KV>): Record<string, DStream<any>> => {
    const outputs: Record<string, DStream<any>> = {};
    let s = input;
    stages.forEach((st, i) => {
      switch (st.kind) {
        case "scale":
          s = s.mapValues((v) => (v * st.k) % 97);
          break;
        case "rekey":
          s = s.map(([k, v]) => [`${k}${v % st.m}`, v] as KV);
          break;
        case "filter":
          s = s.filter(([, v]) => v % st.m !== 0);
          break;
        case "dup":
          s = s.flatMap(([k, v]) => [[k, v] as KV, [k, v + 1] as KV]);
          break;
        case "repartition":
          s = s.repartition(st.n);
          break;
        case "reduceByKey":
          s = s.reduceByKey(add, st.partitions);
          break;
        case "selfJoin": {
          const r = s.reduceByKey(add, st.partitions);
          s = r.join(r.mapValues((v) => v + 1)).mapValues(([a, b]) => a * 3 + b);
          break;
        }
        case "window":
          s = st.inverse
            ? s.reduceByKeyAndWindow(add, (a, b) => a - b, st.windowBatches * batch, batch, st.partitions)
            : s.reduceByKeyAndWindow(add, st.windowBatches * batch, batch, st.partitions);
          break;
        case "mapWithState": {
          const spec = StateSpec.function((k: string, v: number | undefined, state: State<number>) => {
            if (state.isTimingOut()) return [k, -1] as KV;
            const sum = (state.getOption() ?? 0) + (v ?? 0);
            state.update(sum);
            return [k, sum] as KV;
          }).numPartitions(st.partitions);
          if (st.timeoutBatches !== undefined) spec.timeout(st.timeoutBatches * batch);
          const mapped = s.mapWithState(spec);
          outputs[`state${i}`] = mapped.stateSnapshots();
          s = mapped;
          break;
        }
        case "updateStateByKey":
          s = s.updateStateByKey(
            (values: number[], state: number | undefined) => values.reduce(add, state ?? 0),
            { numPartitions: st.partitions },
          );
          outputs[`state${i}`] = s;
          break;
      }
    });
    outputs.out = s;
    return outputs;
  };
}

parameterized.pipeline = (stages: Stage[], batch: number) => buildPipeline(stages, batch);
