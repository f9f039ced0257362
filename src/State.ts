import { InvalidArgumentError, StateError } from "./errors.js";
import { requirePositiveDuration } from "./time.js";
import type { StateCodec } from "./dstream/Operator.js";
import { requirePartitions } from "./rdd/RDD.js";

/** The state of one key inside a `mapWithState` function (Spark's State). *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
 *
 * // A running count per key, emitted with every record.
 * function count(key: string, one: number | undefined, state: State<number>): [string, number] {
 *   const total = (state.getOption() ?? 0) + (one ?? 0);
 *   state.update(total);
 *   return [key, total];
 * }
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: 1000, clock });
 * const out: Array<[string, number]> = [];
 * ssc.queueStream([["a", "b", "a"]])
 *   .map((k) => [k, 1] as [string, number])
 *   .mapWithState(StateSpec.function(count))
 *   .foreachRDD(async (rdd) => {
 *     out.push(...(await rdd.collect()));
 *   });
 * await ssc.start();
 * clock.advance(1000);
 * await ssc.awaitIdle();
 * await ssc.stop();
 * assert.deepEqual(out, [["a", 1], ["b", 1], ["a", 2]]);
 * ```
 */
export interface State<S> {
  /** Whether the key has state. */
  exists(): boolean;
  /** The state; throws `SPATE_STATE_NOT_SET` when there is none. */
  get(): S;
  /** The state, or undefined when there is none. */
  getOption(): S | undefined;
  /** Sets the state; throws `SPATE_STATE_TIMING_OUT` when the key is timing out. */
  update(state: S): void;
  /** Removes the state. */
  remove(): void;
  /** Whether the function is being called because the key timed out. */
  isTimingOut(): boolean;
}

/** The mutable State handed to the mapping function; reused for every record of a partition. */
export class StateHandle<S> implements State<S> {
  private value: S | undefined;
  private defined = false;
  private timingOut = false;
  updated = false;
  removed = false;

  wrap(defined: boolean, value: S | undefined): this {
    this.defined = defined;
    this.value = value;
    this.timingOut = false;
    this.updated = false;
    this.removed = false;
    return this;
  }

  wrapTimingOut(value: S): this {
    this.wrap(true, value);
    this.timingOut = true;
    return this;
  }

  exists(): boolean {
    return this.defined;
  }

  get(): S {
    if (!this.defined) {
      throw new StateError(
        "SPATE_STATE_NOT_SET",
        "State.get() was called on a key without state; check state.exists() or use state.getOption().",
      );
    }
    return this.value as S;
  }

  getOption(): S | undefined {
    return this.defined ? this.value : undefined;
  }

  update(state: S): void {
    if (this.removed) {
      throw new StateError(
        "SPATE_STATE_REMOVED",
        "State.update() was called after remove() in the same call.",
      );
    }
    if (this.timingOut) {
      throw new StateError(
        "SPATE_STATE_TIMING_OUT",
        "State.update() was called on a key that is timing out; a timing-out state is removed after this call.",
      );
    }
    this.value = state;
    this.defined = true;
    this.updated = true;
  }

  remove(): void {
    if (this.timingOut) {
      throw new StateError(
        "SPATE_STATE_TIMING_OUT",
        "State.remove() was called on a key that is timing out; it is removed after this call anyway.",
      );
    }
    if (this.removed) {
      throw new StateError("SPATE_STATE_REMOVED", "State.remove() was called twice in the same call.");
    }
    this.removed = true;
    this.defined = false;
    this.value = undefined;
  }

  isTimingOut(): boolean {
    return this.timingOut;
  }

  /** Whether the key has state that is an object (which the function may have changed in place). */
  holdsObject(): boolean {
    const v = this.value;
    return this.defined && ((typeof v === "object" && v !== null) || typeof v === "function");
  }
}

/** The function of `mapWithState`: called once per record, and once per key timing out (value undefined). */
export type MappingFunction<K, V, S, M> = (
  key: K,
  value: V | undefined,
  state: State<S>,
  time: number,
) => M | undefined;

/** Everything `mapWithState` needs (Spark's StateSpec): the function, a timeout, partitions, an initial state. *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
 *
 * // Sessions: clicks per user, emitted when the user has been idle for more than 2 s.
 * const spec = StateSpec.function((user: string, click: number | undefined, state: State<number>) => {
 *   if (state.isTimingOut()) return [user, state.get()] as [string, number];
 *   state.update((state.getOption() ?? 0) + (click ?? 0));
 *   return undefined; // nothing emitted while the session goes on
 * }).timeout(2000);
 *
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: 1000, clock });
 * const ended: Array<[number, [string, number]]> = [];
 * ssc.queueStream([["ann", "bob"], ["ann"]])
 *   .map((user) => [user, 1] as [string, number])
 *   .mapWithState(spec)
 *   .foreachRDD(async (rdd, time) => {
 *     for (const session of await rdd.collect()) ended.push([time, session]);
 *   });
 * await ssc.start();
 * clock.advance(6000);
 * await ssc.awaitIdle();
 * await ssc.stop();
 * // bob's last click was in the batch at 1000: idle for more than 2 s at 4000. ann's at 2000: at 5000.
 * assert.deepEqual(ended, [[4000, ["bob", 1]], [5000, ["ann", 2]]]);
 * ```
 */
export class StateSpec<K, V, S, M> {
  private timeoutMs: number | undefined;
  private partitions: number | undefined;
  private initial: Array<[K, S]> | undefined;
  private stateCodec: StateCodec<S> | undefined;

  private constructor(readonly mappingFunction: MappingFunction<K, V, S, M>) {}

  /** A spec for `fn`, Spark's `StateSpec.function`. */
  static function<K, V, S, M>(fn: MappingFunction<K, V, S, M>): StateSpec<K, V, S, M> {
    if (typeof fn !== "function")
      throw new InvalidArgumentError("StateSpec.function() needs a mapping function.");
    return new StateSpec(fn);
  }

  /** Removes keys idle for longer than `idleMs`, calling the function once for each with `isTimingOut()`. */
  timeout(idleMs: number): this {
    this.timeoutMs = requirePositiveDuration("The mapWithState timeout", idleMs);
    return this;
  }

  /** Partitions of the state (default: the parent's, or `spate.default.parallelism`). */
  numPartitions(n: number): this {
    this.partitions = requirePartitions(n);
    return this;
  }

  /** State of keys before the first batch. */
  initialState(pairs: Array<[K, S]>): this {
    if (!Array.isArray(pairs))
      throw new InvalidArgumentError("initialState() takes an array of [key, state] pairs.");
    this.initial = pairs;
    return this;
  }

  /**
   * How the state is written to checkpoints: `encode(state)` is stored and `decode` turns it back into the state
   * on recovery (for state that is not plain data or registered classes: private fields, closures, handles).
   */
  codec(codec: StateCodec<S>): this {
    this.stateCodec = requireCodec("StateSpec.codec()", codec);
    return this;
  }

  /** The codec given by `codec()`, if any. */
  getCodec(): StateCodec<S> | undefined {
    return this.stateCodec;
  }

  /** The idle timeout in ms, if any. */
  getTimeout(): number | undefined {
    return this.timeoutMs;
  }

  /** The partitions asked for, if any. */
  getNumPartitions(): number | undefined {
    return this.partitions;
  }

  /** The initial state, if any. */
  getInitialState(): Array<[K, S]> | undefined {
    return this.initial;
  }
}

/** Checks a `{ encode, decode }` codec given to `what`. */
export function requireCodec<S>(what: string, codec: StateCodec<S>): StateCodec<S> {
  if (
    typeof codec !== "object" ||
    codec === null ||
    typeof codec.encode !== "function" ||
    typeof codec.decode !== "function"
  ) {
    throw new InvalidArgumentError(`${what} takes { encode(state), decode(stored) }, two functions.`);
  }
  return codec;
}
