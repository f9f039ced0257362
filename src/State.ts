import { InvalidArgumentError, StateError } from "./errors.js";
import { requirePositiveDuration } from "./time.js";
import type { StateCodec } from "./dstream/Operator.js";
import { requirePartitions } from "./rdd/RDD.js";

/** The state of one key inside a `mapWithState` function (Spark's State). */
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

/** Everything `mapWithState` needs (Spark's StateSpec): the function, a timeout, partitions, an initial state. */
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

  numPartitions(n: number): this {
    this.partitions = requirePartitions(n);
    return this;
  }

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

  getCodec(): StateCodec<S> | undefined {
    return this.stateCodec;
  }

  getTimeout(): number | undefined {
    return this.timeoutMs;
  }

  getNumPartitions(): number | undefined {
    return this.partitions;
  }

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
