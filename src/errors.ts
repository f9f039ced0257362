/**
 * Every error a user can cause is a {@link SpateError} with a stable `code`; the message says what was wrong and
 * what to do. Retry logic reads only `retriable` (KafkaJS's habit).
 */
export type SpateErrorCode =
  | "SPATE_INVALID_DURATION"
  | "SPATE_INVALID_ARGUMENT"
  | "SPATE_INVALID_CONF"
  | "SPATE_UNKNOWN_CONF"
  | "SPATE_NO_OUTPUT"
  | "SPATE_ALREADY_STARTED"
  | "SPATE_CONTEXT_STOPPED"
  | "SPATE_GRAPH_FROZEN"
  | "SPATE_DUPLICATE_UID"
  | "SPATE_INVALID_KEY"
  | "SPATE_USER_FUNCTION_FAILED"
  | "SPATE_STATE_NOT_SET"
  | "SPATE_STATE_TIMING_OUT"
  | "SPATE_STATE_REMOVED"
  | "SPATE_IO_ERROR"
  | "SPATE_CHECKPOINT_CORRUPT"
  | "SPATE_CHECKPOINT_LOCKED"
  | "SPATE_CHECKPOINT_FENCED"
  | "SPATE_GRAPH_MISMATCH"
  | "SPATE_NOT_REPLAYABLE"
  | "SPATE_INPUT_DIRECTORY_CHANGED"
  | "SPATE_MALFORMED_INPUT"
  | "SPATE_CONNECTION_LOST"
  | "SPATE_NATS_UNAVAILABLE"
  | "SPATE_NATS_STREAM_NOT_FOUND"
  | "SPATE_NATS_REPLAY_FAILED"
  | "SPATE_NATS_PAYLOAD_TOO_LARGE"
  | "SPATE_NATS_PUBLISH_FAILED"
  | "SPATE_STATE_NOT_SERIALIZABLE"
  | "SPATE_ASYNC_FUNCTION"
  | "SPATE_GRAPH_NOT_REBUILDABLE"
  | "SPATE_STATE_TOO_LARGE";

export interface SpateErrorOptions {
  cause?: unknown;
  retriable?: boolean;
}

/** The base of every error spate throws on purpose. */
export class SpateError extends Error {
  readonly code: SpateErrorCode;
  readonly retriable: boolean;

  constructor(code: SpateErrorCode, message: string, options: SpateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** A duration (batch, window, slide, checkpoint interval) that is not positive or not a multiple it must be. */
export class InvalidDurationError extends SpateError {
  constructor(message: string) {
    super("SPATE_INVALID_DURATION", message);
  }
}

/** An argument of the wrong shape or value. */
export class InvalidArgumentError extends SpateError {
  constructor(message: string) {
    super("SPATE_INVALID_ARGUMENT", message);
  }
}

/** A `spate.*` setting that is unknown or has a value of the wrong type. */
export class ConfigError extends SpateError {
  constructor(code: "SPATE_INVALID_CONF" | "SPATE_UNKNOWN_CONF", message: string) {
    super(code, message);
  }
}

/** The context was asked to do something its lifecycle does not allow (start twice, build after start, …). */
export class IllegalStateError extends SpateError {
  constructor(
    code:
      | "SPATE_NO_OUTPUT"
      | "SPATE_ALREADY_STARTED"
      | "SPATE_CONTEXT_STOPPED"
      | "SPATE_GRAPH_FROZEN"
      | "SPATE_DUPLICATE_UID",
    message: string,
  ) {
    super(code, message);
  }
}

/** A key that cannot be compared by value: only strings, numbers, bigints, booleans, arrays and plain objects can. */
export class InvalidKeyError extends SpateError {
  constructor(message: string) {
    super("SPATE_INVALID_KEY", message);
  }
}

/** A misuse of `State` inside a `mapWithState` function. */
export class StateError extends SpateError {
  constructor(
    code: "SPATE_STATE_NOT_SET" | "SPATE_STATE_TIMING_OUT" | "SPATE_STATE_REMOVED",
    message: string,
  ) {
    super(code, message);
  }
}

/**
 * A user function threw while a batch was computed. The batch failed as a whole: every state store stays at the
 * previous batch's version. The function's own error, with its stack, is the `cause`.
 */
export class UserFunctionError extends SpateError {
  /** The stable id of the operator whose function threw. */
  readonly operatorId: string;
  /** The operator as logs and the UI name it: `map at job.ts:12 (map-d2d06b5a)` (Spark's callSite). */
  readonly operatorName: string;
  /** The batch time, once the scheduler knows it. */
  batchTime: number | undefined;

  constructor(operatorId: string, cause: unknown, batchTime?: number, operatorName: string = operatorId) {
    super("SPATE_USER_FUNCTION_FAILED", UserFunctionError.describe(operatorName, cause, batchTime), {
      cause,
    });
    this.operatorId = operatorId;
    this.operatorName = operatorName;
    this.batchTime = batchTime;
  }

  /** Returns the same error, completed with the batch time that failed. */
  atBatch(batchTime: number): this {
    this.batchTime = batchTime;
    this.message = UserFunctionError.describe(this.operatorName, this.cause, batchTime);
    return this;
  }

  private static describe(operatorName: string, cause: unknown, batchTime?: number): string {
    const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const when = batchTime === undefined ? "" : `Batch ${batchTime} failed: `;
    return (
      `${when}the function of operator ${quoteOperator(operatorName)} threw ${what}. ` +
      "The batch was rolled back (state stays at the previous batch); fix the function or its input and restart " +
      '(spate.errors.onRecordFailure "skip" or "deadLetter" drops such records instead; ' +
      "spate checkpoint skip-batch passes over a batch that fails for good)."
    );
  }
}

/**
 * A checkpoint file that does not verify (torn, truncated, wrong magic, unknown format version, bad checksum), or a
 * checkpoint directory with no valid checkpoint at all.
 */
export class CheckpointCorruptError extends SpateError {
  /** The file that failed to verify, when one did. */
  readonly file: string | undefined;

  constructor(message: string, file?: string, cause?: unknown) {
    super("SPATE_CHECKPOINT_CORRUPT", message, { cause });
    this.file = file;
  }
}

/** Who holds a checkpoint location, as its ownership record says. */
export interface CheckpointHolder {
  host: string;
  pid: number;
  appName: string;
  /** Wall-clock ms when it took the location. */
  since: number;
  /** Wall-clock ms of its last renewal. */
  renewedAt: number;
}

/** Another running context owns the checkpoint location: two jobs writing one location would lose input. */
export class CheckpointLockedError extends SpateError {
  readonly location: string;
  readonly holder: CheckpointHolder;

  constructor(location: string, holder: CheckpointHolder, why: string) {
    super(
      "SPATE_CHECKPOINT_LOCKED",
      `The checkpoint location ${location} is owned by ${holder.appName} (pid ${holder.pid} on ${holder.host}, ` +
        `since ${new Date(holder.since).toISOString()}), ${why}. Stop that job first, or give this one another ` +
        "checkpoint location; a job that died releases the location by itself (at once on the same host, " +
        "otherwise once its lease of spate.checkpoint.lockTimeout ms runs out).",
      { retriable: true },
    );
    this.location = location;
    this.holder = holder;
  }
}

/**
 * This context lost ownership of its checkpoint location (it was paused past its lease and another context took
 * over): it stops without writing anything more, so that the new owner's checkpoints stay the newest.
 */
export class CheckpointFencedError extends SpateError {
  readonly location: string;

  constructor(location: string, now: string) {
    super(
      "SPATE_CHECKPOINT_FENCED",
      `This job lost ownership of the checkpoint location ${location}: ${now}. It stopped without writing ` +
        "anything more; the other job carries on from the checkpoints. If this job paused for longer than " +
        "spate.checkpoint.lockTimeout (a long garbage collection, a suspended machine), raise that setting.",
    );
    this.location = location;
  }
}

/**
 * The rebuilt graph does not match the checkpoint: an operator that holds state is missing, or its id now names an
 * operator of another kind.
 */
export class GraphMismatchError extends SpateError {
  /** The ids of the operators that differ. */
  readonly operators: string[];

  constructor(message: string, operators: string[]) {
    super("SPATE_GRAPH_MISMATCH", message);
    this.operators = operators;
  }
}

/**
 * The job's graph cannot be rebuilt by importing its module (what a worker thread does): no `jobModule` was given
 * where one is needed, or the one given does not load or does not export a function that builds the context.
 */
export class GraphNotRebuildableError extends SpateError {
  constructor(message: string, cause?: unknown) {
    super("SPATE_GRAPH_NOT_REBUILDABLE", message, cause === undefined ? {} : { cause });
  }
}

/** An operator as errors name it (structurally the DStream that owns the function, see rdd/scope.ts). */
export interface AttributedOperator {
  readonly id: string;
  readonly name: string;
}

/**
 * A stateful operator stored state that a checkpoint could not restore as it is (an instance of a class not
 * registered with `registerClasses`, a function, a Symbol, a circular object, a Promise, …). Checked before the
 * batch's outputs run, on the values the batch stored, when checkpointing is on: the batch fails and every state
 * store stays at the previous batch.
 */
export class StateNotSerializableError extends SpateError {
  readonly operatorId: string;
  /** The key whose state (or the key itself) cannot be restored. */
  readonly key: unknown;
  /** Where inside the value: `state.items[3]`, `key[0]`. */
  readonly path: string;
  /** What was found there: `a Symbol`, `an instance of class Session, which is not registered`, … */
  readonly valueType: string;
  readonly batchTime: number;

  constructor(
    operatorId: string,
    key: unknown,
    path: string,
    valueType: string,
    batchTime: number,
    cause?: unknown,
  ) {
    super(
      "SPATE_STATE_NOT_SERIALIZABLE",
      `Batch ${batchTime} failed: operator "${operatorId}" stored state for key ${describeKey(key)} that a ` +
        `checkpoint cannot restore as it is: ${path} is ${valueType}. The batch was rolled back (state stays at ` +
        "the previous batch) and its outputs did not run. Keep state to data (primitives, plain objects, arrays, " +
        "Map, Set, Date, typed arrays), register its classes with ssc.registerClasses(...), or give the operator " +
        "a codec ({ encode, decode }).",
      { cause },
    );
    this.operatorId = operatorId;
    this.key = key;
    this.path = path;
    this.valueType = valueType;
    this.batchTime = batchTime;
  }
}

function describeKey(key: unknown): string {
  try {
    const text = JSON.stringify(key, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
    if (text !== undefined) return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    // below
  }
  return String(key);
}

/**
 * A stateful operator's state grew too large for the memory state store: the JavaScript heap neared its limit (or one
 * partition neared the most keys its store can index, 100M) while a batch added keys. The batch failed before the
 * heap ran out: every state store stays at the previous batch and `awaitTermination()` rejects with this error, where
 * the process would otherwise have crashed out of memory.
 */
export class StateTooLargeError extends SpateError {
  readonly operatorId: string;
  /** The operator as logs and the UI name it: `mapWithState at job.ts:12 (mapWithState-d2d06b5a)`. */
  operatorName: string;
  /** The partition whose store was adding keys. */
  readonly partition: number;
  /** Keys that partition held, this batch's new keys included. */
  readonly keys: number;
  /** Bytes of the JavaScript heap in use (old generation, where state lives) when the guard fired. */
  readonly heapUsed: number;
  /** Bytes the old generation may grow to (`--max-old-space-size`). */
  readonly heapLimit: number;
  /** Bytes the store's next growth may allocate at once (its index doubling, its arrays growing). */
  readonly growthBytes: number;
  /** Whether the partition reached the most keys one store can index, rather than the heap its limit. */
  readonly tooManyKeys: boolean;
  /** The batch time, once the scheduler knows it. */
  batchTime: number | undefined;

  constructor(
    operator: AttributedOperator,
    size: {
      partition: number;
      keys: number;
      heapUsed: number;
      heapLimit: number;
      growthBytes: number;
      tooManyKeys: boolean;
    },
    batchTime?: number,
  ) {
    super("SPATE_STATE_TOO_LARGE", "");
    this.operatorId = operator.id;
    this.operatorName = operator.name;
    this.partition = size.partition;
    this.keys = size.keys;
    this.heapUsed = size.heapUsed;
    this.heapLimit = size.heapLimit;
    this.growthBytes = size.growthBytes;
    this.tooManyKeys = size.tooManyKeys;
    this.batchTime = batchTime;
    this.message = this.describe();
  }

  /** Returns the same error, naming `operator` by its call site if it is the operator whose state grew. */
  named(operator: AttributedOperator): this {
    if (operator.id === this.operatorId) {
      this.operatorName = operator.name;
      this.message = this.describe();
    }
    return this;
  }

  /** Returns the same error, completed with the batch time that failed. */
  atBatch(batchTime: number): this {
    this.batchTime = batchTime;
    this.message = this.describe();
    return this;
  }

  private describe(): string {
    const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;
    const when = this.batchTime === undefined ? "" : `Batch ${this.batchTime} failed: `;
    const why = this.tooManyKeys
      ? "the most keys one partition's memory store can index"
      : `and the JavaScript heap is near its limit: ${mb(this.heapUsed)} used of ${mb(this.heapLimit)}, and the ` +
        `store's next growth may take ${mb(this.growthBytes)} more at once`;
    return (
      `${when}the state of operator ${quoteOperator(this.operatorName)} holds ${this.keys} keys in partition ` +
      `${this.partition}, ${why}. The batch was rolled back (state stays at the previous batch) before the ` +
      'process ran out of memory. Keep state on disk with spate.state.backend "lmdb", spread the keys over more ' +
      "partitions and worker threads (spate.executor.threads), each with a heap of its own, or raise the heap " +
      "limit (node --max-old-space-size)."
    );
  }
}

/**
 * A user function returned a Promise (or another thenable) where spate expects a value: spate's transformation
 * and state functions run synchronously, so an async one would silently store or pass on the Promise. It always
 * fails the batch: it is never dropped as a bad record under `spate.errors.onRecordFailure`.
 */
export class AsyncFunctionError extends SpateError {
  readonly operatorId: string;
  /** The operator as logs and the UI name it: `map at job.ts:12 (map-d2d06b5a)`. */
  readonly operatorName: string;
  /** Which function: `map function`, `updateStateByKey function`, … */
  readonly functionKind: string;
  batchTime: number | undefined;

  constructor(operator: AttributedOperator, functionKind: string, batchTime?: number) {
    super("SPATE_ASYNC_FUNCTION", AsyncFunctionError.describe(operator.name, functionKind, batchTime));
    this.operatorId = operator.id;
    this.operatorName = operator.name;
    this.functionKind = functionKind;
    this.batchTime = batchTime;
  }

  /** Returns the same error, completed with the batch time that failed. */
  atBatch(batchTime: number): this {
    this.batchTime = batchTime;
    this.message = AsyncFunctionError.describe(this.operatorName, this.functionKind, batchTime);
    return this;
  }

  private static describe(operatorName: string, functionKind: string, batchTime?: number): string {
    const when = batchTime === undefined ? "" : `Batch ${batchTime} failed: `;
    return (
      `${when}the ${functionKind} of operator ${quoteOperator(operatorName)} returned a Promise (is it async?) ` +
      "where a value is expected. Transformation and state functions run synchronously; do async work (lookups, " +
      "writes) in foreachRDD, which may be async, or compute the value without awaiting. The batch was rolled back."
    );
  }
}

/** Completes an error of a user function with the batch time that failed (other errors are returned as they are). */
export function atBatch(error: unknown, batchTime: number): unknown {
  return error instanceof UserFunctionError ||
    error instanceof AsyncFunctionError ||
    error instanceof StateTooLargeError
    ? error.atBatch(batchTime)
    : error;
}

/**
 * Whether a user function's result is a Promise or another thenable. Cheap on the hot path: one typeof for
 * primitives, and arrays (the pairs of keyed streams) are told apart without a lookup of `then` along their
 * prototype chain.
 */
export function isThenable(r: unknown): boolean {
  return (
    typeof r === "object" &&
    r !== null &&
    !Array.isArray(r) &&
    typeof (r as { then?: unknown }).then === "function"
  );
}

/**
 * The error for a function that returned the thenable `r`; a rejection of `r` is caught, so that it is not
 * reported a second time as an unhandled rejection.
 */
export function asyncResult(
  operator: AttributedOperator,
  functionKind: string,
  r: unknown,
): AsyncFunctionError {
  try {
    (r as PromiseLike<unknown>).then(undefined, () => {});
  } catch {
    // a thenable whose then throws: nothing to silence
  }
  return new AsyncFunctionError(operator, functionKind);
}

/** An operator's name in a message: a call site (`map at job.ts:12 (map-…)`) as it is, a bare id in quotes. */
function quoteOperator(name: string): string {
  return name.includes(" ") ? name : `"${name}"`;
}

/**
 * Wraps anything a user function threw, unless it is already attributed to an operator: the one place where a
 * user's error becomes a {@link UserFunctionError} naming the operator and its call site.
 */
export function attribute(operator: AttributedOperator, error: unknown): SpateError {
  if (error instanceof UserFunctionError) return error;
  if (error instanceof StateTooLargeError) return error.named(operator);
  if (
    error instanceof SpateError &&
    error.code !== "SPATE_STATE_NOT_SET" &&
    error.code !== "SPATE_STATE_TIMING_OUT" &&
    error.code !== "SPATE_STATE_REMOVED"
  ) {
    return error;
  }
  return new UserFunctionError(operator.id, error, undefined, operator.name);
}
