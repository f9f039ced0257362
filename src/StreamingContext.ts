import { existsSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { CheckpointStore } from "./checkpoint/CheckpointStore.js";
import { CheckpointLease } from "./checkpoint/CheckpointLease.js";
import { Checkpointer } from "./checkpoint/Checkpointer.js";
import { FileCheckpointStore } from "./checkpoint/FileCheckpointStore.js";
import { ClassRegistry, type RegisteredClass } from "./checkpoint/classes.js";
import { countTimes, pendingOf } from "./checkpoint/metadata.js";
import {
  decodeState,
  matchGraph,
  type RestoredCheckpoint,
  readNewestCheckpoint,
} from "./checkpoint/recovery.js";
import { SpateConf } from "./config.js";
import { DStream } from "./DStream.js";
import { FileInputOp, type FileStreamOptions } from "./dstream/FileInputOp.js";
import { logRedistributed } from "./dstream/storeCheckpoint.js";
import { ReceiverInputOp } from "./dstream/ReceiverInputOp.js";
import type { OperatorEnv } from "./dstream/Operator.js";
import { type Queue, QueueInputOp } from "./dstream/QueueInputOp.js";
import { TransformedOp } from "./dstream/TransformedOp.js";
import { UnionOp } from "./dstream/UnionOp.js";
import {
  ConfigError,
  GraphNotRebuildableError,
  IllegalStateError,
  InvalidArgumentError,
  SpateError,
} from "./errors.js";
import { DStreamGraph } from "./graph/DStreamGraph.js";
import { BufferedLogger, createLogger, type Logger } from "./log.js";
import { samePartitioning } from "./rdd/Partitioner.js";
import type { RDD, RDDEnv } from "./rdd/RDD.js";
import { Receiver } from "./receiver/Receiver.js";
import { SocketReceiver } from "./receiver/SocketReceiver.js";
import type { RecordFailurePolicy } from "./rdd/failures.js";
import { BadRecords } from "./scheduler/BadRecords.js";
import { JobGenerator } from "./scheduler/JobGenerator.js";
import { type CatchUpStatus, JobScheduler } from "./scheduler/JobScheduler.js";
import { ListenerBus, type ReceiverInfo, type StreamingListener } from "./scheduler/StreamingListener.js";
import { openStateProvider } from "./state/backends.js";
import type { StateBackend, StateStoreProvider } from "./state/StateStore.js";
import { type Clock, ManualClock, requirePositiveDuration, SystemClock } from "./time.js";

/**
 * The module that builds a job's graph (`StreamingContextOptions.jobModule`): a worker thread imports `url` and
 * calls its export `export` (default: `default`, else `createContext`), a `CreateJob` (src/job.ts), with
 * `{ args, checkpoint, role: "worker" }`. The module must not start a context when imported.
 */
export interface JobModule {
  /** The module's URL (`import.meta.url` of the job's own module, or `pathToFileURL(file)`). */
  url: string | URL;
  /** The export that builds the context; default: `default`, else `createContext`. */
  export?: string;
  /** The `args` the create function is given. */
  args?: string[];
}

/** Options of `new StreamingContext(...)` (Spark: the SparkConf and batch duration given to its constructor). */
export interface StreamingContextOptions {
  /** The interval at which input is cut into batches, in ms. */
  batchDuration: number;
  /** Default: the system clock; tests pass a ManualClock. */
  clock?: Clock;
  appName?: string;
  /** `spate.*` settings (checked), and any settings of your own. */
  conf?: Record<string, string | number | boolean>;
  /** A pino-compatible logger; default: JSON lines on stderr (level from SPATE_LOG_LEVEL). */
  logger?: Logger;
  /**
   * The module that builds this same graph, so that worker threads (`spate.executor.threads` > 1) can rebuild it:
   * they import `url` and call its export `export` (default: `default`, else `createContext`), a `CreateJob`, with
   * `{ args, checkpoint, role: "worker" }`. `spate run` sets it to the job module it runs. The module must not
   * start a context when imported. `start()` checks that it loads and exports a function
   * (SPATE_GRAPH_NOT_REBUILDABLE otherwise). Typically the job's module exports
   * `createContext({ args }: JobArgs)`, which passes `jobModule: { url: import.meta.url, args }`, and the program
   * that runs it imports that module, calls it and starts the context.
   */
  jobModule?: JobModule;
  /**
   * A state backend of your own (see {@link StateBackend}); default: the one `spate.state.backend` names
   * (`memory`, or `lmdb`).
   */
  stateBackend?: StateBackend;
}

/** A context's lifecycle: `initialized` until `start()`, `active` while running, `stopped` after `stop()` or a failure (Spark's StreamingContextState). */
export type StreamingContextState = "initialized" | "active" | "stopped";

/**
 * The entry point of a streaming job (Spark's StreamingContext): create input streams, build DStreams on them,
 * register outputs, then `start()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock, Seconds, StreamingContext } from "spate";
 *
 * const clock = new ManualClock(0);
 * const ssc = new StreamingContext({ batchDuration: Seconds(1), clock });
 * const counts: Array<[number, number]> = [];
 * ssc.queueStream([["a", "b"], ["c"]]).count().foreachRDD(async (rdd, time) => {
 *   counts.push([time, (await rdd.collect())[0]!]);
 * });
 * await ssc.start();
 * clock.advance(2000); // two batches: at 1000 and 2000
 * await ssc.awaitIdle();
 * await ssc.stop();
 * assert.deepEqual(counts, [[1000, 2], [2000, 1]]);
 * ```
 */
export class StreamingContext {
  readonly batchDuration: number;
  readonly clock: Clock;
  readonly appName: string;
  readonly conf: SpateConf;
  /** @internal */ readonly graph = new DStreamGraph();
  /** @internal */ readonly stateStores: StateStoreProvider;
  /** @internal */ readonly rddEnv: RDDEnv;
  /** @internal */ readonly log: Logger;
  /** @internal What operators use of this context (they never see the context itself). */
  readonly operatorEnv: OperatorEnv;
  /** @internal The classes whose instances keep their prototype through checkpoints. */
  readonly classes = new ClassRegistry();
  /** @internal The module that rebuilds this graph (the `jobModule` option, or the job `spate run` runs). */
  jobModule: JobModule | undefined;

  /**
   * The context's logger (the one given in its options, or the default): a job's own lines written through it
   * come out in the same format as spate's (JSON lines on stderr, readable lines on a terminal).
   */
  get logger(): Logger {
    return this.log;
  }
  private readonly bus: ListenerBus;
  private readonly badRecords: BadRecords;
  private readonly scheduler: JobScheduler;
  private readonly generator: JobGenerator;
  private checkpointStore: CheckpointStore | undefined;
  private lease: CheckpointLease | undefined;
  /** The web UI, loaded only when used (`spate.ui.port` not 0). */
  private ui: { readonly url: string | undefined; close(): Promise<void> } | undefined;
  private restored: RestoredCheckpoint | undefined;
  private droppedState: string[] = [];
  private downTimeBatches = 0;
  private rememberMs: number | undefined;
  private current: StreamingContextState = "initialized";
  private failure: unknown;
  private stopping: Promise<void> | undefined;
  private removeShutdownHooks: (() => void) | undefined;
  private readonly terminated: Promise<void>;
  private settleTermination!: (error?: unknown) => void;

  constructor(options: StreamingContextOptions) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        "new StreamingContext() takes an options object: { batchDuration: Seconds(1) }.",
      );
    }
    this.batchDuration = requirePositiveDuration("The batch duration", options.batchDuration);
    this.clock = options.clock ?? new SystemClock();
    this.appName = options.appName ?? "spate";
    this.conf = new SpateConf({ ...confFromEnvironment(), ...options.conf });
    this.log = options.logger ?? createLogger(this.appName);
    this.jobModule = checkJobModuleOption(options.jobModule);
    this.stateStores = openStateProvider(this.conf, this.classes, options.stateBackend);
    this.badRecords = new BadRecords(
      this.conf.get("spate.errors.onRecordFailure") as RecordFailurePolicy,
      this.log,
    );
    this.rddEnv = {
      defaultParallelism: this.conf.getNumber("spate.default.parallelism"),
      maxParallelism: this.conf.getNumber("spate.state.maxParallelism"),
      recordFailures: this.badRecords,
    };
    this.bus = new ListenerBus((error, event) =>
      this.log.warn({ event, error }, "a streaming listener threw"),
    );
    const ssc = this;
    this.operatorEnv = {
      appName: this.appName,
      clock: this.clock,
      conf: this.conf,
      log: this.log,
      listenerBus: this.bus,
      stateStores: this.stateStores,
      rddEnv: this.rddEnv,
      recordFailures: this.badRecords,
      classes: this.classes,
      get checkpointDirectory() {
        return ssc.checkpointDirectory;
      },
      checkOwnership: () => this.checkOwnership(),
    };
    this.terminated = new Promise<void>((resolve, reject) => {
      this.settleTermination = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.terminated.catch(() => {}); // rejection is for awaitTermination(); never unhandled
    const fail = (error: unknown) => this.fail(error);
    this.scheduler = new JobScheduler(
      this.graph,
      this.stateStores,
      this.bus,
      this.log,
      fail,
      this.batchDuration,
      () => this.clock.getTimeMillis(),
      this.badRecords,
    );
    this.generator = new JobGenerator(this.clock, this.batchDuration, this.graph, this.scheduler, fail);
  }

  /**
   * Enables checkpointing (metadata and state) into a directory, or into any {@link CheckpointStore} (the plug-in
   * point for other storage).
   */
  checkpoint(dirOrStore: string | CheckpointStore): void {
    this.graph.requireBuilding("checkpoint()");
    this.checkpointStore = toStore(dirOrStore);
  }

  /**
   * Registers classes whose instances, anywhere in state, keys or window data, come back from a checkpoint as
   * instances of that class (its prototype, so its methods, and its own fields; no constructor call), as Spark's
   * `registerKryoClasses`. A class is stored by its name, which must be unique among registered classes; call it
   * where the job is built (in the create function given to getOrCreate), before start().
   */
  registerClasses(...classes: RegisteredClass[]): void {
    this.graph.requireBuilding("registerClasses()");
    this.classes.register(classes);
  }

  /** Where checkpoints go, if enabled. */
  get checkpointDirectory(): string | undefined {
    return this.checkpointStore?.location;
  }

  /** The checkpoint this context was restored from, if any: its file and the newer ones passed over. */
  get restoredFrom(): { checkpoint: string; batchTime: number | undefined; skipped: string[] } | undefined {
    const r = this.restored;
    return (
      r && { checkpoint: r.name, batchTime: r.metadata.completedTime, skipped: r.skipped.map((x) => x.name) }
    );
  }

  /**
   * Recovers a job from its checkpoint, or creates it (Spark's getOrCreate). `create` builds the graph in both
   * cases, since functions cannot be serialized; with a checkpoint the context then resumes where the failed run
   * stopped: state restored, batches not completed run again with the same input.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   * import { ManualClock, StreamingContext } from "spate";
   *
   * const dir = mkdtempSync(join(tmpdir(), "spate-example-"));
   * const incoming = join(dir, "incoming");
   * mkdirSync(incoming);
   * let totals: Array<[string, number]> = [];
   * // Called on a fresh start and on recovery alike: it rebuilds the graph.
   * function create(): StreamingContext {
   *   const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0) });
   *   ssc.textFileStream(incoming)
   *     .map((word) => [word, 1] as [string, number])
   *     .updateStateByKey((ones: number[], total: number | undefined) => (total ?? 0) + ones.length)
   *     .uid("totals")
   *     .foreachRDD(async (rdd) => {
   *       totals = await rdd.collect();
   *     });
   *   return ssc;
   * }
   *
   * const first = await StreamingContext.getOrCreate(join(dir, "checkpoint"), create);
   * await first.start();
   * writeFileSync(join(incoming, "1.txt"), "a\nb\na\n");
   * (first.clock as ManualClock).advance(1000);
   * await first.awaitIdle();
   * await first.stop();
   *
   * // Run again: the totals come back from the checkpoint.
   * const second = await StreamingContext.getOrCreate(join(dir, "checkpoint"), create);
   * assert.notEqual(second.restoredFrom, undefined);
   * await second.start();
   * writeFileSync(join(incoming, "2.txt"), "a\n");
   * (second.clock as ManualClock).advance(1000);
   * await second.awaitIdle();
   * await second.stop();
   * assert.deepEqual(totals.sort(), [["a", 3], ["b", 1]]);
   * ```
   */
  static async getOrCreate(
    checkpoint: string | CheckpointStore,
    create: () => StreamingContext | Promise<StreamingContext>,
  ): Promise<StreamingContext> {
    const store = toStore(checkpoint);
    // The location is owned before the checkpoint is read, so that no other job writes it between this read and
    // this job's first write. The job's settings are not known yet: the lease starts with those of `spate run`.
    // (A store without records is warned about by start(), on the job's logger.)
    let lease: CheckpointLease | undefined;
    try {
      lease = CheckpointLease.supportedBy(store)
        ? await CheckpointLease.acquire(store, {
            appName: "spate",
            lockTimeout: lockTimeoutOf(new SpateConf(confFromEnvironment())),
            log: createLogger("spate"),
          })
        : undefined;
      const ssc = await StreamingContext.restoreOrCreate(store, create);
      await lease?.adopt({ appName: ssc.appName, lockTimeout: lockTimeoutOf(ssc.conf), log: ssc.log });
      ssc.lease = lease;
      return ssc;
    } catch (e) {
      await lease?.release();
      await store.close?.().catch(() => {});
      throw e;
    }
  }

  /** What getOrCreate does once it owns the location. */
  private static async restoreOrCreate(
    store: CheckpointStore,
    create: () => StreamingContext | Promise<StreamingContext>,
  ): Promise<StreamingContext> {
    // The checkpoint is read first, so that a corrupt one fails before `create` runs; its log lines go to the
    // job's own logger once the job exists.
    const pending = new BufferedLogger();
    let restored: RestoredCheckpoint | undefined;
    try {
      restored = await readNewestCheckpoint(store, pending);
    } catch (e) {
      pending.flushTo(createLogger("spate"));
      throw e;
    }
    const ssc = requireCreatedContext(await create(), "The create function given to getOrCreate()");
    if (ssc.current !== "initialized") {
      throw new IllegalStateError(
        "SPATE_ALREADY_STARTED",
        "The create function given to getOrCreate() must not start the context.",
      );
    }
    ssc.checkpointStore = store;
    pending.flushTo(ssc.log);
    if (restored) {
      ssc.graph.freeze();
      ssc.droppedState = matchGraph(
        ssc.graph,
        restored.metadata,
        ssc.batchDuration,
        ssc.conf.getBoolean("spate.checkpoint.allowNonRestoredState"),
      );
      if (ssc.droppedState.length > 0) {
        ssc.log.warn(
          { operators: ssc.droppedState },
          "state of operators not in the job any more is dropped (allowNonRestoredState)",
        );
      }
      ssc.restored = restored;
    }
    return ssc;
  }

  /** Keeps every stream's RDDs at least `duration` ms (for ad-hoc queries of past batches). */
  remember(duration: number): void {
    this.rememberMs = requirePositiveDuration("The remember duration", duration);
  }

  /**
   * The address of the streaming web UI (page, `/api/v1/streaming/` and `/metrics`) once started, e.g.
   * `http://127.0.0.1:4040`; undefined when `spate.ui.port` is 0 or the context is not running.
   */
  get uiUrl(): string | undefined {
    return this.ui?.url;
  }

  /** The time before the first batch (batch times are `zeroTime + k * batchDuration`), once started. */
  get zeroTime(): number | undefined {
    return this.generator.zeroTime;
  }

  // ---- sources -----------------------------------------------------------------------------------------------

  /**
   * A stream fed from a queue of arrays: with `oneAtATime`, one array per batch; otherwise everything queued.
   * An empty queue gives an empty batch, or `defaultRDD`. The queue is read as it is when each batch is cut, so
   * arrays pushed after start are picked up.
   */
  queueStream<T>(queue: T[][] | Queue<T[]>, oneAtATime = true, defaultRDD?: T[]): DStream<T> {
    if (!queue || typeof (queue as Queue<T[]>).shift !== "function") {
      throw new InvalidArgumentError(
        "queueStream() takes an array of arrays (one per batch), or a queue with shift().",
      );
    }
    return new DStream(
      this,
      new QueueInputOp(this.batchDuration, queue as Queue<T[]>, oneAtATime, defaultRDD),
    );
  }

  /**
   * The lines of new files in `directory` (Spark's textFileStream): `fileStream(directory)` with its defaults.
   */
  textFileStream(directory: string): DStream<string> {
    if (typeof directory !== "string" || directory === "") {
      throw new InvalidArgumentError("textFileStream() needs a directory path.");
    }
    return this.fileStream(directory);
  }

  /**
   * The lines of new files in `directory` (Spark's fileStream, read as text): each batch reads the files that
   * appeared since the previous one, one partition per file, as a stream of lines (a file of any size; lines that
   * are not valid UTF-8 are skipped and reported). By default (`newFilesOnly`), files already there when the job
   * first starts are skipped. A replayable source: with checkpointing, a restarted job reads the same files for
   * the same batches, and the checkpoint records the folder. Names read are remembered for
   * `spate.fileStream.minRememberDuration`; files modified longer ago than that are ignored (see README).
   */
  fileStream(directory: string, options: FileStreamOptions = {}): DStream<string> {
    if (typeof directory !== "string" || directory === "") {
      throw new InvalidArgumentError("fileStream() needs a directory path.");
    }
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(
        "fileStream() takes an options object: { filter?, newFilesOnly?, allowDirectoryChange? }.",
      );
    }
    if (options.filter !== undefined && typeof options.filter !== "function") {
      throw new InvalidArgumentError("fileStream()'s filter must be a function of a file's path.");
    }
    for (const key of ["newFilesOnly", "allowDirectoryChange"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "boolean") {
        throw new InvalidArgumentError(`fileStream()'s ${key} must be true or false.`);
      }
    }
    return new DStream(this, new FileInputOp(this.batchDuration, directory, { ...options }));
  }

  /**
   * A stream of what `receiver` stores. With `spate.receiver.writeAheadLog.enable`, stored records are logged
   * durably in the checkpoint directory before they count, and a restarted job counts them exactly once.
   */
  receiverStream<T>(receiver: Receiver<T>): DStream<T> {
    if (!(receiver instanceof Receiver)) {
      throw new InvalidArgumentError("receiverStream() takes an instance of a class that extends Receiver.");
    }
    const wal = this.conf.getBoolean("spate.receiver.writeAheadLog.enable");
    return new DStream(this, new ReceiverInputOp(this.batchDuration, receiver, wal));
  }

  /**
   * The lines of a TCP connection to `host:port`, decoded as UTF-8 (Spark's socketTextStream): reconnects, with
   * backoff, when the connection closes or fails; a line that is not valid UTF-8 is skipped and reported. With the
   * write-ahead log, a line counts once it is logged; lines still in flight in the connection when the job dies are
   * lost, since a socket cannot replay them.
   */
  socketTextStream(host: string, port: number): DStream<string> {
    return this.receiverStream(new SocketReceiver(host, port));
  }

  /** The union of streams with the same slide duration. */
  union<T>(streams: DStream<T>[]): DStream<T> {
    return new DStream(this, new UnionOp(streams));
  }

  /** A stream computed by `fn` from the RDDs of `streams` for each batch. */
  transform<T>(streams: DStream<any>[], fn: (rdds: RDD<any>[], time: number) => RDD<T>): DStream<T> {
    return new DStream(this, new TransformedOp(streams, fn));
  }

  // ---- listeners ---------------------------------------------------------------------------------------------

  /** Adds a listener of the context's events (batches, output operations, receivers, checkpoints). */
  addStreamingListener(listener: StreamingListener): void {
    this.bus.add(listener);
  }

  /** Removes a listener added by `addStreamingListener`. */
  removeStreamingListener(listener: StreamingListener): void {
    this.bus.remove(listener);
  }

  /** @internal The bus listeners are added to (receivers post their events and feed backpressure through it). */
  get listenerBus(): ListenerBus {
    return this.bus;
  }

  /** @internal The status of every started receiver (Spark's ReceiverTracker.allocatedExecutors' view). */
  receiverInfos(): ReceiverInfo[] {
    const infos: ReceiverInfo[] = [];
    for (const s of this.graph.inputs) {
      const info = s.op instanceof ReceiverInputOp ? s.op.receiverInfo : undefined;
      if (info) infos.push(info);
    }
    return infos;
  }

  // ---- lifecycle ---------------------------------------------------------------------------------------------

  /** Where the context is in its lifecycle (Spark's getState). */
  state(): StreamingContextState {
    return this.current;
  }

  /** Checks the graph and starts cutting batches. */
  async start(): Promise<void> {
    if (this.current === "active") {
      throw new IllegalStateError(
        "SPATE_ALREADY_STARTED",
        "start() was called on a context that is already running.",
      );
    }
    if (this.current === "stopped") {
      throw new IllegalStateError(
        "SPATE_CONTEXT_STOPPED",
        "start() was called on a stopped context; a context cannot be restarted: create a new one.",
      );
    }
    this.graph.freeze();
    await this.checkJobModule();
    await this.startUI();
    try {
      await this.startJob();
    } catch (e) {
      await this.closeUI();
      await this.releaseLease();
      throw e;
    }
  }

  /**
   * The job module, when given, must load and export a function: a worker thread builds the graph with it. Imported
   * here as a worker would (a module imported already, such as the one `spate run` runs, is not run again).
   */
  private async checkJobModule(): Promise<void> {
    const m = this.jobModule;
    if (!m) return;
    const url = String(m.url);
    const fix = "Pass jobModule: { url: import.meta.url } from the module whose export builds this context.";
    if (url.startsWith("file:") && !existsSync(fileURLToPath(url))) {
      throw new GraphNotRebuildableError(`The job module ${url} (jobModule) does not exist. ${fix}`);
    }
    // The program's own entry module (a script that builds and starts its context) is still loading: importing it
    // here would wait for itself. A worker imports it afresh.
    const main = process.argv[1] ? pathToFileURL(path.resolve(process.argv[1])).href : undefined;
    if (url === main) return;
    let timer: NodeJS.Timeout | undefined;
    let mod: Record<string, unknown>;
    try {
      mod = await Promise.race([
        import(url) as Promise<Record<string, unknown>>,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(
                  `it did not finish loading in ${JOB_MODULE_LOAD_MS / 1000} s: a job module must not start ` +
                    "the context when imported (export the function that builds it)",
                ),
              ),
            JOB_MODULE_LOAD_MS,
          );
          timer.unref();
        }),
      ]);
    } catch (e) {
      throw new GraphNotRebuildableError(
        `The job module ${url} (jobModule) does not load: ${e instanceof Error ? e.message : String(e)}. ${fix}`,
        e,
      );
    } finally {
      clearTimeout(timer);
    }
    const names = m.export !== undefined ? [m.export] : ["default", "createContext"];
    if (!names.some((n) => typeof mod[n] === "function")) {
      throw new GraphNotRebuildableError(
        `The job module ${url} (jobModule) has no function ${names.map((n) => `"${n}"`).join(" or ")} to build ` +
          `the context (its exports: ${Object.keys(mod).join(", ") || "none"}). Export the function that builds ` +
          "this context (a CreateJob), or name it with jobModule.export.",
      );
    }
  }

  /**
   * @internal Throws SPATE_CHECKPOINT_FENCED once another context took the checkpoint location over (free while
   * the lease is fresh); writers into the location other than the checkpointer call it before each write.
   */
  async checkOwnership(): Promise<void> {
    await this.lease?.check();
  }

  /** Gives up ownership of the checkpoint location, if this context has it, and closes the store's connection. */
  private async releaseLease(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
    await this.checkpointStore?.close?.().catch((e: unknown) => {
      this.log.warn(
        { location: this.checkpointStore?.location, error: e },
        "could not close the checkpoint store",
      );
    });
  }

  /** Where "deadLetter" writes: the setting, else the checkpoint folder's `dead-letters`; required otherwise. */
  private deadLetterDir(): string | undefined {
    if (this.badRecords.policy !== "deadLetter") return undefined;
    const set = this.conf.get("spate.errors.deadLetter.dir");
    if (typeof set === "string") return path.resolve(set);
    const store = this.checkpointStore;
    if (store instanceof FileCheckpointStore) return path.join(store.location, "dead-letters");
    throw new ConfigError(
      "SPATE_INVALID_CONF",
      'spate.errors.onRecordFailure is "deadLetter" and there is no folder to write dead letters to: set ' +
        "spate.errors.deadLetter.dir, or checkpoint into a folder (its dead-letters subfolder is the default).",
    );
  }

  /** Serves the web UI on `spate.ui.port` (or the next free port), unless that is 0. */
  private async startUI(): Promise<void> {
    const port = this.conf.getNumber("spate.ui.port") ?? 0;
    if (port === 0) return;
    // Loaded only when used, so that a job without the UI does not load the web server.
    const { StreamingUI } = await import("./ui/StreamingUI.js");
    this.ui = await StreamingUI.start(this, {
      host: String(this.conf.get("spate.ui.host")),
      port,
      retainedBatches: this.conf.getNumber("spate.ui.retainedBatches") ?? 1000,
      stateQuery: this.conf.get("spate.ui.stateQuery") as "loopback" | "any" | "off",
      log: this.log,
    });
  }

  private async closeUI(): Promise<void> {
    const ui = this.ui;
    this.ui = undefined;
    await ui?.close();
  }

  /** Closes the state stores (their files, for a backend that has some) once no batch runs any more. */
  private async closeState(): Promise<void> {
    await this.stateStores.close?.();
  }

  private async startJob(): Promise<void> {
    const store = this.checkpointStore;
    this.badRecords.deadLetterDir = this.deadLetterDir();
    this.stateStores.trackChanges = store !== undefined;
    if (store) {
      const queue = this.graph.inputs.find((s) => !s.op.inputLog?.replayable);
      if (queue) {
        throw new SpateError(
          "SPATE_NOT_REPLAYABLE",
          `Checkpointing needs replayable input, and ${queue.id} (${queue.op.kind}) cannot be read again after a ` +
            "restart. Use textFileStream or a receiver with the write-ahead log, or turn checkpointing off.",
        );
      }
      this.lease ??= await CheckpointLease.acquire(store, {
        appName: this.appName,
        lockTimeout: lockTimeoutOf(this.conf),
        log: this.log,
      });
      // A renewal that finds another owner stops the job as a failed batch would.
      if (this.lease) this.lease.onLost = (error) => this.fail(error);
      const checkpointer = new Checkpointer(
        store,
        this.graph,
        this.conf,
        this.appName,
        this.batchDuration,
        this.log,
        this.bus,
        this.lease,
        this.classes,
      );
      this.scheduler.hooks = {
        beforeBatch: (time, pending) => checkpointer.beforeBatch(time, pending),
        afterCompute: (time) => checkpointer.verifyBatch(time),
        afterBatch: (time, pending, records) =>
          checkpointer.afterBatch(time, this.zeroTime ?? 0, pending, records),
      };
      if (this.restored) {
        for (const s of this.graph.inputs) {
          const data = this.restored.metadata.inputs[s.id];
          if (data !== undefined) await s.op.inputLog?.restore(data, s);
        }
        this.restart(this.restored, checkpointer);
      }
    }
    this.current = "active";
    this.installShutdownHooks();
    if (!this.restored) this.generator.start(this.rememberMs);
    try {
      for (const s of this.graph.streams) await s.op.start?.(s);
    } catch (e) {
      // An input or output that cannot start (a server down, a stream missing) stops the context it was part of.
      this.fail(e);
      await this.stopping;
      throw e;
    }
    this.bus.post("onStreamingStarted", () => ({
      time: this.clock.getTimeMillis(),
      restoredFrom: this.restored && {
        checkpoint: this.restored.name,
        batchTime: this.restored.metadata.completedTime,
        writtenAt: this.restored.metadata.writtenAt,
      },
    }));
    this.log.info(
      {
        appName: this.appName,
        batchDuration: this.batchDuration,
        zeroTime: this.zeroTime,
        operators: this.graph.streams.length,
      },
      "streaming context started",
    );
  }

  /**
   * Stops the context. Without `stopGracefully`, batches not yet started are dropped (the one running finishes);
   * with it (Spark's graceful stop), receivers stop first (no new data), every block they stored goes into a
   * batch (the last one is cut at once, without waiting for its time), and every batch is processed and
   * checkpointed before the context stops.
   */
  stop(options: { stopGracefully?: boolean } = {}): Promise<void> {
    // A failed context already stopped its inputs, and still serves its UI until stopped.
    if (this.stopping) return this.stopping.finally(() => this.closeUI()).finally(() => this.closeState());
    this.removeShutdownHooks?.();
    if (this.current !== "active") {
      this.current = "stopped";
      this.settleTermination();
      this.stopping = this.releaseLease()
        .then(() => this.closeUI())
        .then(() => this.closeState());
      return this.stopping;
    }
    this.stopping = (async () => {
      if (options.stopGracefully) {
        const receivers = this.graph.inputs.map((s) => s.op).filter((op) => op instanceof ReceiverInputOp);
        for (const op of receivers) await op.stopReceiving();
        this.generator.stop();
        if (this.failure === undefined && receivers.some((op) => op.hasUnallocatedBlocks())) {
          const time = this.generator.generateNext();
          this.log.info({ batchTime: time }, "stopping gracefully: a last batch for the data received");
        }
      } else {
        this.generator.stop();
        const dropped = this.scheduler.dropPending();
        if (dropped.length > 0)
          this.log.info(
            { batches: countTimes(dropped), ranges: dropped },
            "stopping: dropped batches not yet started",
          );
      }
      await this.scheduler.whenIdle().catch(() => {});
      this.scheduler.summarize();
      await this.stopInputs();
      await this.releaseLease();
      await this.closeUI();
      await this.closeState();
      this.current = "stopped";
      this.log.info({ appName: this.appName }, "streaming context stopped");
      if (this.failure === undefined) this.settleTermination();
    })();
    return this.stopping;
  }

  /** Resolves when the context stops; rejects with the error that made it fail. */
  awaitTermination(): Promise<void> {
    return this.terminated;
  }

  /** Like awaitTermination, but resolves false if the context is still running after `ms` (wall-clock) ms. */
  async awaitTerminationOrTimeout(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([this.terminated.then(() => true), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves when every batch generated so far has completed: outputs run and state committed. Rejects with the
   * failure if a batch failed.
   */
  awaitIdle(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.scheduler.whenIdle();
  }

  /**
   * @internal The catch-up of the batches a restart runs (those pending at the crash and those of the down time),
   * if this context was restarted: how many, how many done, and how fast.
   */
  catchUpStatus(): (CatchUpStatus & { downTimeBatches: number }) | undefined {
    const status = this.scheduler.catchUpStatus();
    return status && { ...status, downTimeBatches: this.downTimeBatches };
  }

  /** Restores state and input logs from the checkpoint, replays completed batches into state, re-runs the rest. */
  private restart(restored: RestoredCheckpoint, checkpointer: Checkpointer): void {
    const md = restored.metadata;
    const state = decodeState(restored, this.classes);
    // A manual clock resumes at the checkpoint's last batch, unless it was set later (a test of down time).
    if (this.clock instanceof ManualClock && this.clock.getTimeMillis() < md.checkpointTime)
      this.clock.setTime(md.checkpointTime);
    const versions = new Map<string, number>();
    const rerun = this.generator.restart(
      md.zeroTime,
      this.rememberMs,
      md.completedTime,
      md.checkpointTime,
      () => {
        for (const s of this.graph.streams) {
          const saved = state.get(s.id);
          if (!s.op.checkpointState || this.droppedState.includes(s.id)) continue;
          if (saved) {
            const started = performance.now();
            const cp = s.op.checkpointState;
            if (cp.restorePartition) {
              // Partition by partition, each from its own files (or, rescaled, from the old partitions that
              // overlap its key groups).
              let keys = 0;
              for (let p = 0; p < cp.partitioning.numPartitions; p++) {
                cp.restorePartition(s, p, saved.read, saved.version, saved.partitioning);
                keys += this.stateStores.getStore(s.id, p).size;
              }
              if (!samePartitioning(saved.partitioning, cp.partitioning))
                logRedistributed(s, saved.partitioning, cp.partitioning, keys);
            } else {
              const all = Array.from({ length: saved.partitioning.numPartitions }, (_, p) => saved.read(p));
              cp.restore(s, all, saved.version, saved.partitioning);
            }
            versions.set(s.id, saved.version);
            this.log.info(
              { operatorId: s.id, version: saved.version, ms: Math.round(performance.now() - started) },
              "state restored",
            );
          } else if (md.operators.some((o) => o.id === s.id)) {
            // In the job before its first data checkpoint: its state is empty at zero time, replayed from there.
            versions.set(s.id, md.zeroTime);
          }
        }
        checkpointer.resume(md, restored.name, versions);
        // State is at its last data checkpoint: the scheduler replays the completed batches after it, without
        // their outputs, before any other batch.
        return { stateVersions: versions };
      },
    );
    this.downTimeBatches = rerun.downTime;
    this.log.info(
      {
        checkpoint: restored.name,
        lastCompletedBatch: md.completedTime,
        restoredOperators: [...versions.keys()],
        rerun: rerun.batches > 0 ? { batches: rerun.batches, from: rerun.first, until: rerun.until } : false,
        pendingAtStop: countTimes(pendingOf(md)),
        downTimeBatches: rerun.downTime,
      },
      "restored from checkpoint",
    );
    if (rerun.downTime > 0) {
      this.log.info(
        {
          batches: rerun.downTime,
          from: md.checkpointTime + this.batchDuration,
          until: rerun.until,
          downTimeMs: rerun.until - md.checkpointTime,
        },
        "down time: every batch of it runs now (outputs included), the first with what arrived meanwhile",
      );
    }
  }

  private async stopInputs(): Promise<void> {
    for (const s of this.graph.streams) {
      try {
        await s.op.stop?.(s);
      } catch (e) {
        this.log.warn({ operatorId: s.id, error: e }, "an input failed to stop cleanly");
      }
    }
  }

  /**
   * `spate.stopGracefullyOnShutdown`: SIGTERM or SIGINT stops the context gracefully, then the process ends (once
   * nothing else keeps it alive, or a second later), with exit code 0 unless something set another. The handlers
   * are removed as the stop begins, so a second signal terminates the process at once.
   */
  private installShutdownHooks(): void {
    if (!this.conf.getBoolean("spate.stopGracefullyOnShutdown")) return;
    const onSignal = (signal: NodeJS.Signals) => {
      this.log.info({ signal }, "shutdown signal: stopping gracefully (send it again to force)");
      void this.stop({ stopGracefully: true }).then(() => setTimeout(() => process.exit(), 1000).unref());
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    this.removeShutdownHooks = () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      this.removeShutdownHooks = undefined;
    };
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.removeShutdownHooks?.();
    this.failure = error;
    this.generator.stop();
    this.scheduler.dropPending();
    this.current = "stopped";
    // A failed context writes nothing more: the location is free for a restart (a fenced one has nothing to free).
    this.stopping ??= this.stopInputs().then(() => this.releaseLease());
    this.settleTermination(error);
  }
}

/**
 * Checks what a job's create function returned (given to getOrCreate, or exported by a module `spate run` runs):
 * a StreamingContext of this very package, or a coded error saying what it was instead.
 */
export function requireCreatedContext(value: unknown, what: string): StreamingContext {
  if (value instanceof StreamingContext) return value;
  const o = value as { start?: unknown; awaitTermination?: unknown } | null;
  if (
    typeof o === "object" &&
    o !== null &&
    typeof o.start === "function" &&
    typeof o.awaitTermination === "function"
  ) {
    // A StreamingContext of another copy of the package, where `instanceof` does not hold.
    throw new InvalidArgumentError(
      `${what} returned a StreamingContext of another copy of spate than the one running it. Import spate in the ` +
        "job from the project whose spate command runs it.",
    );
  }
  const got =
    value === null || typeof value !== "object"
      ? typeof value === "string"
        ? JSON.stringify(value)
        : String(value)
      : `an object${value.constructor?.name ? ` of class ${value.constructor.name}` : ""}`;
  throw new InvalidArgumentError(
    `${what} returned ${got}, not a StreamingContext (or a promise of one). It must build the context, its ` +
      "streams and outputs, and return it: const ssc = new StreamingContext(...); ...; return ssc;",
  );
}

function toStore(dirOrStore: string | CheckpointStore): CheckpointStore {
  if (typeof dirOrStore === "string") {
    if (dirOrStore === "") throw new InvalidArgumentError("A checkpoint directory path must not be empty.");
    return new FileCheckpointStore(dirOrStore);
  }
  if (!dirOrStore || typeof dirOrStore.write !== "function" || typeof dirOrStore.list !== "function") {
    throw new InvalidArgumentError("checkpoint() takes a directory path or a CheckpointStore.");
  }
  return dirOrStore;
}

function lockTimeoutOf(conf: SpateConf): number {
  // The setting has a default (config.ts), so there is always a number.
  return conf.getNumber("spate.checkpoint.lockTimeout")!;
}

/** Settings passed by `spate run --conf` (settings given in code take precedence, as with spark-submit). */
/** How long start() waits for the job module to load. */
const JOB_MODULE_LOAD_MS = 10_000;

/** The `jobModule` option, checked: a URL, an optional export name and string arguments. */
function checkJobModuleOption(m: unknown): JobModule | undefined {
  if (m === undefined) return undefined;
  const o = m as JobModule;
  const bad = (why: string) =>
    new InvalidArgumentError(
      `jobModule ${why}: pass { url: import.meta.url, export?: "createContext", args?: ["..."] }.`,
    );
  if (typeof o !== "object" || o === null) throw bad("must be an object");
  if (!(typeof o.url === "string" && o.url !== "") && !(o.url instanceof URL))
    throw bad("needs the module's url (a string or URL)");
  if (typeof o.url === "string" && !/^[a-z][a-z0-9+.-]*:/i.test(o.url))
    throw bad(`url must be a URL, not a path (${o.url}): use pathToFileURL(path)`);
  if (o.export !== undefined && (typeof o.export !== "string" || o.export === ""))
    throw bad("export must be the name of an export");
  if (o.args !== undefined && (!Array.isArray(o.args) || o.args.some((a) => typeof a !== "string")))
    throw bad("args must be an array of strings");
  return {
    url: String(o.url),
    ...(o.export !== undefined && { export: o.export }),
    args: [...(o.args ?? [])],
  };
}

function confFromEnvironment(): Record<string, string | number | boolean> {
  const raw = process.env.SPATE_CONF;
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, string>;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(`SPATE_CONF must be a JSON object of settings (got ${raw}).`);
}
