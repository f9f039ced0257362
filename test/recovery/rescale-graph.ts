// The graph of the rescaling test, shared by its child job (real clock, files) and its reference run that never
// fails (ManualClock, a queue of the same batches): updateStateByKey, mapWithState with a timeout (its timeouts
// are emitted) and a windowed count with an inverse function, each given as an output by name.
import { type DStream, type State, StateSpec } from "spate";

export const BATCH = 200;

export interface Partitions {
  /** StateSpec.numPartitions of mapWithState (default: spate.default.parallelism). */
  sessions?: number;
  /** numPartitions of reduceByKeyAndWindow (default: spate.default.parallelism). */
  window?: number;
}

export function build(
  lines: DStream<string>,
  partitions: Partitions,
  output: (name: string, stream: DStream<any>) => void,
): void {
  const words = lines
    .flatMap((l) => l.split(" ").slice(1))
    .filter((w) => w !== "")
    .map((w) => [w, 1] as [string, number]);
  const totals = words
    .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
    .uid("totals");
  output("totals", totals);
  let spec = StateSpec.function(
    (w: string, one: number | undefined, state: State<number>): [string, string, number] | undefined => {
      if (state.isTimingOut()) return [w, "timeout", state.get()];
      state.update((state.getOption() ?? 0) + (one ?? 0));
      return undefined;
    },
  ).timeout(3 * BATCH);
  if (partitions.sessions !== undefined) spec = spec.numPartitions(partitions.sessions);
  const sessions = words.mapWithState(spec).uid("sessions");
  output("timeouts", sessions);
  output("sessions", sessions.stateSnapshots());
  const window = words
    .reduceByKeyAndWindow(
      (a, b) => a + b,
      (a, b) => a - b,
      3 * BATCH,
      BATCH,
      partitions.window,
    )
    .uid("window");
  output("window", window);
}
