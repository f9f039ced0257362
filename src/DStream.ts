import * as path from "node:path";
import { ForEachOp } from "./dstream/ForEachOp.js";
import { MapWithStateOp } from "./dstream/MapWithStateOp.js";
import { MappedOp } from "./dstream/MappedOp.js";
import type { Operator, OperatorEnv, StateCodec } from "./dstream/Operator.js";
import { ReducedWindowedOp } from "./dstream/ReducedWindowedOp.js";
import { StateOp, type UpdateFunction } from "./dstream/StateOp.js";
import { StateSnapshotsOp } from "./dstream/StateSnapshotsOp.js";
import { TransformedOp } from "./dstream/TransformedOp.js";
import { UnionOp } from "./dstream/UnionOp.js";
import { WindowedOp } from "./dstream/WindowedOp.js";
import { attribute, IllegalStateError, InvalidArgumentError } from "./errors.js";
import { userCallSite } from "./graph/callSite.js";
import { writeDirDurably } from "./io/durable.js";
import { formatRecord } from "./rdd/keys.js";
import { DEFAULT_MAX_PARALLELISM, HashPartitioner, type Partitioner } from "./rdd/Partitioner.js";
import { RDD, requirePartitions } from "./rdd/RDD.js";
import { runAs } from "./rdd/scope.js";
import { requireCodec, type StateSpec } from "./State.js";
import type { StreamingContext } from "./StreamingContext.js";
import { requireMultiple, requirePositiveDuration } from "./time.js";

/** Options of `reduceByKeyAndWindow` / `reduceByWindow` in the options-object form. */
export interface WindowReduceOptions<T> {
  /** The inverse of the reduce function: with it, each window is computed from the previous one (adds what entered, subtracts what left). */
  invFn?: (a: T, b: T) => T;
  /** Window duration in ms: a multiple of the parent stream's slide. */
  window: number;
  /** Slide duration in ms (default: the parent stream's slide): a multiple of it. */
  slide?: number;
  numPartitions?: number;
}

/** Options of `reduceByKeyAndWindow` in the options-object form: `WindowReduceOptions` and `filterFn`. */
export interface KeyedWindowReduceOptions<K, V> extends WindowReduceOptions<V> {
  /** With `invFn`: keeps a key in the window's result only when it returns true (Spark's filterFunc; e.g. drop keys whose count fell to 0). */
  filterFn?: (kv: [K, V]) => boolean;
}

/** Options of `updateStateByKey`. */
export interface UpdateStateOptions<K, S> {
  numPartitions?: number;
  /** State of keys before the first batch. */
  initialState?: Array<[K, S]>;
  /** How the state is written to checkpoints: `encode(state)` is stored, `decode` restores it. */
  codec?: StateCodec<S>;
}

/**
 * A discretized stream: a sequence of RDDs, one per batch (Spark's DStream). Building a DStream only adds to the
 * graph; nothing runs until the context starts. Pair operations exist on `DStream<[K, V]>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, StreamingContext } from "spate";
 *
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: 1000, clock });
 * const out: Array<[string, number]> = [];
 * ssc.queueStream([["to be or", "not to be"]])
 *   .flatMap((line) => line.split(" "))
 *   .map((word) => [word, 1] as [string, number])
 *   .reduceByKey((a, b) => a + b)
 *   .foreachRDD(async (rdd) => {
 *     out.push(...(await rdd.collect()));
 *   });
 * await ssc.start();
 * clock.advance(1000);
 * await ssc.awaitIdle();
 * await ssc.stop();
 * assert.deepEqual(out.sort(), [["be", 2], ["not", 1], ["or", 1], ["to", 2]]);
 * ```
 */
export class DStream<T> {
  /** @internal */
  readonly op: Operator<T>;
  private readonly ssc: StreamingContext;
  private readonly generated = new Map<number, RDD<T>>();
  private assignedId: string | undefined;
  private pinnedUid: string | undefined;
  private persisted = false;
  private checkpointMs: number | undefined;
  /** @internal */ zeroTime: number | undefined;
  /** @internal */ rememberDuration = 0;
  /**
   * @internal Where the user's code created this stream, `file:line` (Spark's creationSite); read once here, so
   * errors, logs and the UI can name the operator without any cost per record.
   */
  readonly creationSite: string | undefined;

  /** @internal */
  constructor(ssc: StreamingContext, op: Operator<T>) {
    this.ssc = ssc;
    this.op = op;
    this.creationSite = userCallSite();
    ssc.graph.register(this);
  }

  /** The context this stream belongs to. */
  get context(): StreamingContext {
    return this.ssc;
  }

  /** @internal What its operator uses of the engine (never the context itself). */
  get env(): OperatorEnv {
    return this.ssc.operatorEnv;
  }

  /** The interval at which this stream produces an RDD. */
  get slideDuration(): number {
    return this.op.slideDuration;
  }

  /** The stable id of the operator: the pinned uid, or one derived from its position in the graph. */
  get id(): string {
    return this.pinnedUid ?? this.assignedId ?? `${this.op.kind}-?`;
  }

  /** @internal The operator as errors, logs and the UI name it: `map at job.ts:12 (map-d2d06b5a)`. */
  get name(): string {
    const site = this.creationSite === undefined ? "" : ` at ${this.creationSite}`;
    return `${this.op.kind}${site} (${this.id})`;
  }

  /** @internal */
  get pinnedId(): string | undefined {
    return this.pinnedUid;
  }

  /** @internal */
  setId(id: string): void {
    this.assignedId = id;
  }

  /** Pins this operator's id, so that its checkpointed state survives edits elsewhere in the application. */
  uid(name: string): this {
    if (typeof name !== "string" || name.trim() === "" || /[/\\]/.test(name)) {
      throw new InvalidArgumentError(
        `uid() takes a non-empty name without slashes (got ${JSON.stringify(name)}).`,
      );
    }
    this.ssc.graph.requireBuilding("uid()");
    this.pinnedUid = name;
    return this;
  }

  /** Keeps this stream's RDDs computed once (they are read again by windows, or by several outputs). */
  persist(): this {
    this.persisted = true;
    return this;
  }

  /** The same as `persist()`. */
  cache(): this {
    return this.persist();
  }

  /** @internal */
  get isPersisted(): boolean {
    return this.persisted;
  }

  /** Sets the interval of this stream's data checkpoints (a multiple of its slide duration). */
  checkpoint(interval: number): this {
    this.checkpointMs = requireMultiple(
      "The checkpoint interval",
      interval,
      "the slide duration",
      this.slideDuration,
    );
    this.persist();
    return this;
  }

  /** The data checkpoint interval set with `checkpoint(interval)`, if any. */
  get checkpointInterval(): number | undefined {
    return this.checkpointMs;
  }

  // ---- the machinery every stream shares ----------------------------------------------------------------------

  /** @internal */
  isTimeValid(time: number): boolean {
    const zero = this.zeroTime;
    if (zero === undefined) {
      throw new IllegalStateError(
        "SPATE_CONTEXT_STOPPED",
        `Stream ${this.id} has not been started; start the context first.`,
      );
    }
    return time > zero && (time - zero) % this.slideDuration === 0;
  }

  /** @internal The RDD of this stream at `time`, computed once and remembered. */
  getOrCompute(time: number): RDD<T> | undefined {
    const hit = this.generated.get(time);
    if (hit) return hit;
    if (!this.isTimeValid(time)) return undefined;
    const rdd = runAs(this, time, () => {
      try {
        return this.op.compute(time, this);
      } catch (e) {
        throw attribute(this, e);
      }
    });
    if (rdd) {
      if (this.persisted) rdd.persist();
      this.generated.set(time, rdd);
    }
    return rdd;
  }

  /** The RDDs of this stream from `fromTime` to `toTime` inclusive (Spark's slice); only once started. */
  slice(fromTime: number, toTime: number): RDD<T>[] {
    const zero = this.zeroTime;
    if (zero === undefined) {
      throw new IllegalStateError("SPATE_CONTEXT_STOPPED", "slice() needs a started context.");
    }
    const slide = this.slideDuration;
    const floor = (t: number) => zero + Math.floor((t - zero) / slide) * slide;
    const out: RDD<T>[] = [];
    for (let t = floor(fromTime); t <= floor(toTime); t += slide) {
      if (t < zero) continue;
      const rdd = this.getOrCompute(t);
      if (rdd) out.push(rdd);
    }
    return out;
  }

  /** @internal Puts a restored RDD in place for `time` (recovery). */
  seed(time: number, rdd: RDD<T>): void {
    this.generated.set(time, rdd);
  }

  /** @internal Forgets RDDs older than the remember duration. */
  clearMetadata(time: number): void {
    const limit = time - this.rememberDuration;
    for (const t of this.generated.keys()) if (t <= limit) this.generated.delete(t);
  }

  /** @internal Raises this stream's remember duration, and its parents' accordingly. */
  remember(duration: number): void {
    if (duration > this.rememberDuration) this.rememberDuration = duration;
    const forParents = this.rememberDuration + (this.op.parentRememberExtra ?? 0);
    for (const p of this.op.parents) p.remember(forParents);
  }

  /** @internal */
  generatedTimes(): number[] {
    return [...this.generated.keys()];
  }

  private derive<U>(kind: string, fn: (rdd: RDD<T>) => RDD<U>): DStream<U> {
    return new DStream(this.ssc, new MappedOp(kind, this, fn));
  }

  private statePartitioner(numPartitions: number | undefined): HashPartitioner {
    const n = requirePartitions(numPartitions ?? this.ssc.rddEnv.defaultParallelism ?? 1);
    const groups = this.ssc.rddEnv.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    if (n > groups) {
      throw new InvalidArgumentError(
        `A stateful operator cannot have more partitions (${n}) than key groups (spate.state.maxParallelism, ` +
          `${groups}). Use at most ${groups} partitions; a new job (empty checkpoint) may raise spate.state.maxParallelism.`,
      );
    }
    return new HashPartitioner(n, groups);
  }

  // ---- transformations -----------------------------------------------------------------------------------------

  /** A stream of `fn` applied to every record. */
  map<U>(fn: (x: T) => U): DStream<U> {
    return this.derive("map", (rdd) => rdd.map(fn));
  }

  /** A stream of the records `fn` returns for every record, flattened. */
  flatMap<U>(fn: (x: T) => Iterable<U>): DStream<U> {
    return this.derive("flatMap", (rdd) => rdd.flatMap(fn));
  }

  /** A stream of the records for which `fn` returns true. */
  filter(fn: (x: T) => boolean): DStream<T> {
    return this.derive("filter", (rdd) => rdd.filter(fn));
  }

  /** Calls `fn` once per partition with its records. */
  mapPartitions<U>(fn: (records: T[]) => Iterable<U>, preservePartitioning = false): DStream<U> {
    return this.derive("mapPartitions", (rdd) => rdd.mapPartitions(fn, preservePartitioning));
  }

  /** One array per partition. */
  glom(): DStream<T[]> {
    return this.derive("glom", (rdd) => rdd.glom());
  }

  /** The same records spread over `numPartitions` partitions in every batch. */
  repartition(numPartitions: number): DStream<T> {
    requirePartitions(numPartitions);
    return this.derive("repartition", (rdd) => rdd.repartition(numPartitions));
  }

  /** The records of both streams in every batch (the slide durations must be equal). */
  union(other: DStream<T>): DStream<T> {
    return new DStream(this.ssc, new UnionOp([this, other]));
  }

  /** One record per batch: the number of records in it. */
  count(): DStream<number> {
    return this.derive("count", (rdd) => {
      // Partitions that know their size (a receiver's blocks, not transformed) are counted without computing them.
      let n = 0;
      for (let p = 0; p < rdd.numPartitions; p++) n += rdd.partitionCount(p);
      return RDD.fromPartitions([[n]], rdd.env);
    });
  }

  /** `[value, count]` for each distinct value of each batch. */
  countByValue(numPartitions?: number): DStream<[T, number]> {
    return this.map((x) => [x, 1] as [T, number]).reduceByKey((a, b) => a + b, numPartitions);
  }

  /** One record per non-empty batch: all its records reduced with `fn`. */
  reduce(fn: (a: T, b: T) => T): DStream<T> {
    // Spark keys every record by null; null is not a spate key, so one constant key stands in for it.
    return this.map((x) => [0, x] as [number, T])
      .reduceByKey(fn, 1)
      .map((kv) => kv[1]);
  }

  /** Applies an RDD-to-RDD function to every batch. */
  transform<U>(fn: (rdd: RDD<T>, time: number) => RDD<U>): DStream<U> {
    return new DStream(this.ssc, new TransformedOp<U>([this], (rdds, time) => fn(rdds[0] as RDD<T>, time)));
  }

  /** Applies a function of this stream's and `other`'s RDDs to every batch. */
  transformWith<U, R>(
    other: DStream<U>,
    fn: (rdd1: RDD<T>, rdd2: RDD<U>, time: number) => RDD<R>,
  ): DStream<R> {
    return new DStream(
      this.ssc,
      new TransformedOp<R>([this, other], (rdds, time) => fn(rdds[0] as RDD<T>, rdds[1] as RDD<U>, time)),
    );
  }

  // ---- windows -------------------------------------------------------------------------------------------------

  /** All records of the batches in `(t - windowDuration, t]`, every `slideDuration`. */
  window(windowDuration: number, slideDuration: number = this.slideDuration): DStream<T> {
    return new DStream(this.ssc, new WindowedOp(this, windowDuration, slideDuration));
  }

  /** The number of records in each window. */
  countByWindow(windowDuration: number, slideDuration: number = this.slideDuration): DStream<number> {
    return this.map(() => 1).reduceByWindow(
      (a, b) => a + b,
      (a, b) => a - b,
      windowDuration,
      slideDuration,
    );
  }

  /**
   * All records of each window reduced with `fn`: `reduceByWindow(fn, window, slide)`,
   * `reduceByWindow(fn, invFn, window, slide)` or `reduceByWindow(fn, { invFn?, window, slide? })`.
   */
  reduceByWindow(fn: (a: T, b: T) => T, options: WindowReduceOptions<T>): DStream<T>;
  reduceByWindow(fn: (a: T, b: T) => T, windowDuration: number, slideDuration?: number): DStream<T>;
  reduceByWindow(
    fn: (a: T, b: T) => T,
    invFn: (a: T, b: T) => T,
    windowDuration: number,
    slideDuration?: number,
  ): DStream<T>;
  reduceByWindow(fn: (a: T, b: T) => T, ...args: any[]): DStream<T> {
    const o = windowArgs<T>(args, this.slideDuration);
    if (o.invFn) {
      return this.map((x) => [1, x] as [number, T])
        .reduceByKeyAndWindow(fn, o.invFn, o.window, o.slide, 1)
        .map((kv) => kv[1]);
    }
    return this.reduce(fn).window(o.window, o.slide).reduce(fn);
  }

  /** `[value, count]` of each distinct value in each window; values whose count falls to 0 are dropped. */
  countByValueAndWindow(
    windowDuration: number,
    slideDuration: number = this.slideDuration,
    numPartitions?: number,
  ): DStream<[T, number]> {
    return this.map((x) => [x, 1] as [T, number]).reduceByKeyAndWindow(
      (a, b) => a + b,
      (a, b) => a - b,
      windowDuration,
      slideDuration,
      numPartitions,
      (kv) => kv[1] !== 0,
    );
  }

  // ---- pair operations (on DStream<[K, V]>) --------------------------------------------------------------------

  /** A pair stream with `fn` applied to every value, keys kept. */
  mapValues<K, V, U>(this: DStream<[K, V]>, fn: (v: V) => U): DStream<[K, U]> {
    return this.derive("mapValues", (rdd) => rdd.mapValues(fn));
  }

  /** A pair stream with every value replaced by the values `fn` returns for it, keys kept. */
  flatMapValues<K, V, U>(this: DStream<[K, V]>, fn: (v: V) => Iterable<U>): DStream<[K, U]> {
    return this.derive("flatMapValues", (rdd) => rdd.flatMapValues(fn));
  }

  /** Every key of a batch with all its values. */
  groupByKey<K, V>(this: DStream<[K, V]>, numPartitions?: number): DStream<[K, V[]]> {
    return this.derive("groupByKey", (rdd) => rdd.groupByKey(numPartitions));
  }

  /** Every key of a batch with its values reduced by the associative function `fn`. */
  reduceByKey<K, V>(
    this: DStream<[K, V]>,
    fn: (a: V, b: V) => V,
    numPartitions?: number | Partitioner,
  ): DStream<[K, V]> {
    return this.derive("reduceByKey", (rdd) => rdd.reduceByKey(fn, numPartitions));
  }

  /** Every key of a batch with its values combined: `create` makes a combiner of the first value, `merge` adds a value, `mergeCombiners` merges two combiners (Spark's combineByKey). */
  combineByKey<K, V, C>(
    this: DStream<[K, V]>,
    createCombiner: (v: V) => C,
    mergeValue: (c: C, v: V) => C,
    mergeCombiners: (a: C, b: C) => C,
    numPartitions?: number | Partitioner,
  ): DStream<[K, C]> {
    return this.derive("combineByKey", (rdd) =>
      rdd.combineByKey(createCombiner, mergeValue, mergeCombiners, numPartitions),
    );
  }

  /** Every key with all its values over a sliding window. */
  groupByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    windowDuration: number,
    slideDuration: number = this.slideDuration,
    numPartitions?: number,
  ): DStream<[K, V[]]> {
    return this.groupByKey(numPartitions)
      .window(windowDuration, slideDuration)
      .combineByKey(
        (vs: V[]) => vs.slice(),
        (acc: V[], vs: V[]) => {
          for (const v of vs) acc.push(v);
          return acc;
        },
        (a: V[], b: V[]) => a.concat(b),
        numPartitions,
      );
  }

  /**
   * The values of each key reduced over each window. Without an inverse function each window is recomputed from
   * its batches; with one (`reduceByKeyAndWindow(fn, invFn, window, slide?, numPartitions?, filterFn?)`) each
   * window is the previous one minus what left plus what entered, and keys whose value falls to the zero stay
   * unless `filterFn` drops them (as in Spark).
   */
  reduceByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    fn: (a: V, b: V) => V,
    options: KeyedWindowReduceOptions<K, V>,
  ): DStream<[K, V]>;
  reduceByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    fn: (a: V, b: V) => V,
    windowDuration: number,
    slideDuration?: number,
    numPartitions?: number,
  ): DStream<[K, V]>;
  reduceByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    fn: (a: V, b: V) => V,
    invFn: (a: V, b: V) => V,
    windowDuration: number,
    slideDuration?: number,
    numPartitions?: number,
    filterFn?: (kv: [K, V]) => boolean,
  ): DStream<[K, V]>;
  reduceByKeyAndWindow<K, V>(this: DStream<[K, V]>, fn: (a: V, b: V) => V, ...args: any[]): DStream<[K, V]> {
    const o = windowArgs<V>(args, this.slideDuration) as Required<
      Pick<KeyedWindowReduceOptions<K, V>, "window" | "slide">
    > &
      KeyedWindowReduceOptions<K, V>;
    if (!o.invFn) {
      return this.reduceByKey(fn, o.numPartitions).window(o.window, o.slide).reduceByKey(fn, o.numPartitions);
    }
    const partitioner = this.statePartitioner(o.numPartitions);
    const reduced = this.reduceByKey(fn, partitioner);
    return new DStream(
      this.ssc,
      new ReducedWindowedOp(reduced, fn, o.invFn, o.filterFn, o.window, o.slide, partitioner),
    );
  }

  /** Every key of either stream with its values in each, batch by batch. */
  cogroup<K, V, W>(
    this: DStream<[K, V]>,
    other: DStream<[K, W]>,
    numPartitions?: number,
  ): DStream<[K, [V[], W[]]]> {
    return this.transformWith(other, (a, b) => a.cogroup(b, numPartitions));
  }

  /** Inner join of two pair streams, batch by batch. */
  join<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V, W]]> {
    return this.transformWith(other, (a, b) => a.join(b, numPartitions));
  }

  /** Left outer join, batch by batch: a missing right value is `undefined` (Spark's None). */
  leftOuterJoin<K, V, W>(
    this: DStream<[K, V]>,
    other: DStream<[K, W]>,
    numPartitions?: number,
  ): DStream<[K, [V, W | undefined]]> {
    return this.transformWith(other, (a, b) => a.leftOuterJoin(b, numPartitions));
  }

  /** Right outer join, batch by batch: a missing left value is `undefined` (Spark's None). */
  rightOuterJoin<K, V, W>(
    this: DStream<[K, V]>,
    other: DStream<[K, W]>,
    numPartitions?: number,
  ): DStream<[K, [V | undefined, W]]> {
    return this.transformWith(other, (a, b) => a.rightOuterJoin(b, numPartitions));
  }

  /** Full outer join, batch by batch: a missing value on either side is `undefined` (Spark's None). */
  fullOuterJoin<K, V, W>(
    this: DStream<[K, V]>,
    other: DStream<[K, W]>,
    numPartitions?: number,
  ): DStream<[K, [V | undefined, W | undefined]]> {
    return this.transformWith(other, (a, b) => a.fullOuterJoin(b, numPartitions));
  }

  // ---- state ---------------------------------------------------------------------------------------------------

  /**
   * Keeps a state per key: every batch, `fn(newValues, state, key, time)` runs for every key with new values or
   * state; returning undefined removes the key. The stream is the whole state after each batch.
   */
  updateStateByKey<K, V, S>(
    this: DStream<[K, V]>,
    fn: UpdateFunction<K, V, S>,
    options: UpdateStateOptions<K, S> = {},
  ): DStream<[K, S]> {
    if (typeof fn !== "function")
      throw new InvalidArgumentError("updateStateByKey() needs an update function.");
    const partitioner = this.statePartitioner(options.numPartitions);
    const codec =
      options.codec === undefined
        ? undefined
        : requireCodec("updateStateByKey's codec option", options.codec);
    return new DStream(this.ssc, new StateOp(this, fn, partitioner, options.initialState, codec));
  }

  /** Keeps a state per key and maps each record with it, in O(records of the batch) (Spark's mapWithState). */
  mapWithState<K, V, S, M>(
    this: DStream<[K, V]>,
    spec: StateSpec<K, V, S, M>,
  ): MapWithStateDStream<K, V, S, M> {
    const partitioner = this.statePartitioner(spec.getNumPartitions());
    return new MapWithStateDStream(this.ssc, new MapWithStateOp(this, spec, partitioner));
  }

  // ---- outputs -------------------------------------------------------------------------------------------------

  private output(kind: string, fn: (rdd: RDD<T>, time: number) => void | Promise<void>, name?: string): void {
    const stream = new DStream(this.ssc, new ForEachOp(kind, this, fn, name));
    this.ssc.graph.addOutput(stream);
  }

  /**
   * Runs `fn` on the RDD of every batch; it is told the batch time, so that it can write idempotently.
   * `options.name` names the output operation in logs and the UI (`foreachRDD` when not given).
   */
  foreachRDD(fn: (rdd: RDD<T>, time: number) => void | Promise<void>, options: { name?: string } = {}): void {
    if (typeof fn !== "function") throw new InvalidArgumentError("foreachRDD() needs a function.");
    const name = options?.name;
    if (name !== undefined && (typeof name !== "string" || name.trim() === "")) {
      throw new InvalidArgumentError(
        `foreachRDD()'s name must be a non-empty string (got ${JSON.stringify(name)}).`,
      );
    }
    this.output("foreachRDD", fn, name);
  }

  /** Prints the first `num` records of every batch, as Spark does. */
  print(num = 10): void {
    requirePartitions(num);
    this.output("print", async (rdd, time) => {
      const first = rdd.takeSync(num + 1);
      const lines = [
        "-------------------------------------------",
        `Time: ${time} ms`,
        "-------------------------------------------",
      ];
      for (const x of first.slice(0, num)) lines.push(formatRecord(x));
      if (first.length > num) lines.push("...");
      process.stdout.write(`${lines.join("\n")}\n\n`);
    });
  }

  /**
   * Saves every batch as a folder `prefix-<time>[.suffix]` with one `part-NNNNN` file per partition, written
   * atomically; a batch written again (after a restart) replaces its folder with the same content.
   */
  saveAsTextFiles(prefix: string, suffix?: string): void {
    if (typeof prefix !== "string" || prefix === "") {
      throw new InvalidArgumentError(
        "saveAsTextFiles() needs a path prefix, e.g. saveAsTextFiles('out/counts').",
      );
    }
    this.output("saveAsTextFiles", async (rdd, time) => {
      const dir = path.resolve(suffix ? `${prefix}-${time}.${suffix}` : `${prefix}-${time}`);
      const files: Array<[string, string]> = rdd
        .materialize()
        .map((records, p) => [
          `part-${String(p).padStart(5, "0")}`,
          records.map((x) => `${formatRecord(x)}\n`).join(""),
        ]);
      files.push(["_SUCCESS", ""]);
      await writeDirDurably(dir, files);
    });
  }
}

/** The stream of mapped values of `mapWithState`, which also gives the state itself. */
export class MapWithStateDStream<K, V, S, M> extends DStream<M> {
  /** The whole state (`[key, state]` pairs) after each batch. */
  stateSnapshots(): DStream<[K, S]> {
    return new DStream(this.context, new StateSnapshotsOp<K, S>(this, this.op as MapWithStateOp<K, V, S, M>));
  }
}

function windowArgs<T>(
  args: any[],
  parentSlide: number,
): KeyedWindowReduceOptions<any, T> & { slide: number } {
  let o: KeyedWindowReduceOptions<any, T>;
  if (typeof args[0] === "object" && args[0] !== null) o = { ...args[0] };
  else if (typeof args[0] === "function") {
    o = { invFn: args[0], window: args[1], slide: args[2], numPartitions: args[3], filterFn: args[4] };
  } else o = { window: args[0], slide: args[1], numPartitions: args[2] };
  requirePositiveDuration("The window duration", o.window);
  if (o.numPartitions !== undefined) requirePartitions(o.numPartitions);
  if (o.filterFn !== undefined && typeof o.filterFn !== "function") {
    throw new InvalidArgumentError("filterFn must be a function of a [key, value] pair.");
  }
  return { ...o, slide: o.slide ?? parentSlide };
}
