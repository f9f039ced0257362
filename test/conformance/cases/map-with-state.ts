// The graphs of test/conformance/map-with-state.test.ts (Spark's MapWithStateSuite), by the name of the case that
// runs them: the test runs a case by name (test/support/caseJob.ts), so a worker thread can rebuild its graph by
// importing this module. Each is Spark's getOperationOutput: keys mapped to [key, 1], mapWithState with the case's
// spec, and both the mapped values ("outputs") and the state snapshots ("snapshots") collected.
import {
  type DStream,
  type JobArgs,
  ManualClock,
  type SpateError,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";
import type { Cases } from "../../support/caseJob.js";

/** The error code `fn` throws, or "none". */
function thrown(fn: () => unknown): string {
  try {
    fn();
    return "none";
  } catch (e) {
    return (e as SpateError).code ?? String(e);
  }
}

/** Spark's testState: what a State shows (exists, get, getOption, getOption.getOrElse(-1), isTimingOut). */
function observe(state: State<number>) {
  return {
    exists: state.exists(),
    get: state.exists() ? state.get() : thrown(() => state.get()),
    getOption: state.getOption(),
    getOrElse: state.getOption() ?? -1,
    isTimingOut: state.isTimingOut(),
  };
}

/** What the state case sees, as `[key@time, step, observation]`, emitted as its mapped values. */
export type Seen = [string, string, unknown];

const specs: Record<string, StateSpec<string, number, any, any>> = {
  // Each key of batch 1 plays one part of Spark's sequence of StateImpl calls; "d" and "b" then time out. What each
  // call sees is the mapped value (a list of observations), so that it reaches the driver from any thread.
  "state - get, exists, update, remove, ": StateSpec.function(
    (key: string, _v: number | undefined, state: State<number>, time: number): Seen[] => {
      const seen: Seen[] = [];
      const at = `${key}@${time}`;
      if (state.isTimingOut()) {
        // Spark: state.wrapTimingOutState(3) -> testState(Some(3), shouldBeTimingOut = true)
        seen.push([at, "timing out", observe(state)]);
        seen.push([at, "remove()", thrown(() => state.remove())]);
        seen.push([at, "update(-1)", thrown(() => state.update(-1))]);
        return seen;
      }
      if (key === "a") {
        // Spark: new StateImpl[Int]() and state.wrap(None) -> testState(None)
        seen.push([at, "no state", observe(state)]);
      } else if (key === "b") {
        // Spark: state.wrap(Some(1)) -> testState(Some(1)); state.update(2) -> testState(Some(2), updated)
        seen.push([at, "state 1", observe(state)]);
        state.update(2);
        seen.push([at, "update(2)", observe(state)]);
      } else if (key === "c") {
        // Spark: new StateImpl; update(2) -> testState(Some(2)); remove() -> testState(None, shouldBeRemoved)
        state.update(2);
        seen.push([at, "update(2)", observe(state)]);
        state.remove();
        seen.push([at, "remove()", observe(state)]);
        seen.push([at, "remove() again", thrown(() => state.remove())]);
        seen.push([at, "update(-1)", thrown(() => state.update(-1))]);
      } else {
        state.update(3); // the state that times out below
      }
      return seen;
    },
  )
    .initialState([["b", 1]])
    .timeout(2000),
  // State maintains a running count; the updated count is returned.
  "mapWithState - basic operations with simple API": StateSpec.function(
    (_key: string, value: number | undefined, state: State<number>) => {
      const sum = (value ?? 0) + (state.getOption() ?? 0);
      state.update(sum);
      return sum;
    },
  ),
  // State maintains a running count; the key doubled is returned. (Spark's advanced form takes the batch time
  // first; spate's function takes it last.)
  "mapWithState - basic operations with advanced API": StateSpec.function(
    (key: string, value: number | undefined, state: State<number>, _time: number) => {
      const sum = (value ?? 0) + (state.getOption() ?? 0);
      state.update(sum);
      return key.repeat(2);
    },
  ),
  "mapWithState - states as mapped data": StateSpec.function(
    (key: string, value: number | undefined, state: State<number>, _time: number) => {
      const sum = (value ?? 0) + (state.getOption() ?? 0);
      state.update(sum);
      return [key, sum] as [string, number];
    },
  ),
  "mapWithState - initial states, with nothing returned as from mapping function": StateSpec.function(
    (_key: string, value: number | undefined, state: State<number>, _time: number): number | undefined => {
      const sum = (value ?? 0) + (state.getOption() ?? 0);
      state.update(sum);
      return undefined;
    },
  ).initialState([
    ["a", 5],
    ["b", 10],
    ["c", -20],
    ["d", 0],
  ]),
  "mapWithState - state removing": StateSpec.function(
    (key: string, value: number | undefined, state: State<number>, _time: number) => {
      if (state.exists()) {
        state.remove();
        return key;
      }
      state.update(value as number);
      return undefined;
    },
  ).numPartitions(1),
  "mapWithState - state timing out": StateSpec.function(
    (key: string, value: number | undefined, state: State<number>, _time: number) => {
      if (value !== undefined) state.update(1);
      return state.isTimingOut() ? key : undefined;
    },
  ).timeout(3000),
};

export const cases: Cases = Object.fromEntries(
  Object.entries(specs).map(([name, spec]) => [
    name,
    (s: DStream<string>) => {
      const mapped = s.map((x) => [x, 1] as [string, number]).mapWithState(spec);
      return { outputs: mapped, snapshots: mapped.stateSnapshots() };
    },
  ]),
);

/** Where the recovery case's state snapshots go on the driver, by input folder (a worker's copy has none). */
export const recoverySinks = new Map<string, (time: number, snapshots: Array<[string, number]>) => void>();

/**
 * The job of "mapWithState - driver failure recovery" (Spark's: a running count per key, checkpointed), built from
 * its arguments `[input folder, checkpoint folder, data checkpoint interval]`; it names this module as its
 * jobModule, so worker threads rebuild it.
 */
export function recoveryContext(job: JobArgs): StreamingContext {
  const [inputDir, checkpointDir, interval] = job.args as [string, string, string];
  const ssc = new StreamingContext({
    batchDuration: 1000,
    clock: new ManualClock(0),
    conf: { "spate.default.parallelism": 2 },
    jobModule: { url: import.meta.url, export: "recoveryContext", args: job.args },
  });
  ssc.checkpoint(checkpointDir);
  const runningCount = (_key: string, value: number | undefined, state: State<number>) => {
    state.update((state.getOption() ?? 0) + (value ?? 0));
    return state.get();
  };
  const mapped = ssc
    .textFileStream(inputDir)
    .map((x) => [x, 1] as [string, number])
    .mapWithState(StateSpec.function(runningCount));
  // Spark: an interval that makes sure there is one data checkpoint before the restart.
  mapped.checkpoint(Number(interval));
  mapped.stateSnapshots().foreachRDD(async (rdd, time) => {
    const sink = recoverySinks.get(inputDir);
    if (sink) sink(time, await rdd.collect());
  });
  return ssc;
}
