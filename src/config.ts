import { ConfigError } from "./errors.js";

type ConfValue = string | number | boolean;

interface Setting<T extends ConfValue> {
  type: "number" | "boolean" | "string";
  default: T | undefined;
  doc: string;
  /** Returns an explanation when the value is out of range. */
  check?: (value: T) => string | undefined;
  /** An environment variable that, when set, replaces the default (a value given in the conf still wins). */
  env?: string;
}

/** Accepts whole numbers >= 0. */
const nonNegativeInt = (v: number) => (Number.isInteger(v) && v >= 0 ? undefined : "a whole number >= 0");
/** Accepts whole numbers > 0. */
const positiveInt = (v: number) => (Number.isInteger(v) && v > 0 ? undefined : "a whole number > 0");
/** Accepts numbers >= 0. */
const nonNegative = (v: number) => (Number.isFinite(v) && v >= 0 ? undefined : "a number >= 0");

/** Every `spate.*` setting: its type, default and meaning. Unknown `spate.*` keys are an error. */
export const SETTINGS = {
  "spate.checkpoint.interval": {
    type: "number",
    default: undefined,
    doc: "Interval of data checkpoints in ms; default for stateful streams: the smallest multiple of the slide >= 10 s.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.checkpoint.retain": {
    type: "number",
    default: 10,
    doc: "How many checkpoints are kept.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.checkpoint.fullSnapshotEvery": {
    type: "number",
    default: 10,
    doc: "A data checkpoint is a full snapshot every this many checkpoints of an operator, a delta otherwise.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.checkpoint.lockTimeout": {
    type: "number",
    default: 30_000,
    doc: "How long in ms a checkpoint location stays owned by a job that stopped renewing its lease (it renews every third of this): a job on another host that died blocks a restart at most this long.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.checkpoint.allowNonRestoredState": {
    type: "boolean",
    default: false,
    doc: "Drop state in a checkpoint whose operator is no longer in the graph, instead of failing.",
  },
  "spate.receiver.writeAheadLog.enable": {
    type: "boolean",
    default: false,
    doc: "Log received blocks durably before they count as received.",
  },
  "spate.receiver.maxRate": {
    type: "number",
    default: 0,
    doc: "Maximum records per second per receiver; 0 means unlimited.",
    /** Returns an explanation when the value is out of range. */
    check: nonNegativeInt,
  },
  "spate.receiver.restartDelay": {
    type: "number",
    default: 2000,
    doc: "Delay in ms before a failed receiver is started again (Spark's spark.streaming.receiverRestartDelay); it doubles while restarts store nothing.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.receiver.maxRestartDelay": {
    type: "number",
    default: 60_000,
    doc: "The longest delay in ms between restarts of a failing receiver.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.fileStream.minRememberDuration": {
    type: "number",
    default: 60_000,
    doc: "How long in ms a file stream remembers the files it read (rounded up to whole batches; Spark's spark.streaming.fileStream.minRememberDuration); files modified longer ago than that before a batch are ignored.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.backpressure.enabled": {
    type: "boolean",
    default: false,
    doc: "Adapt receivers' rates to the processing speed (a PID estimator, as Spark).",
  },
  "spate.backpressure.initialRate": {
    type: "number",
    default: undefined,
    doc: "With backpressure, each receiver's rate limit (records/s) until the first estimate; unset: maxRate or none.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.backpressure.pid.proportional": {
    type: "number",
    default: 1.0,
    doc: "Backpressure PID estimator: weight of the current error.",
    /** Returns an explanation when the value is out of range. */
    check: nonNegative,
  },
  "spate.backpressure.pid.integral": {
    type: "number",
    default: 0.2,
    doc: "Backpressure PID estimator: weight of the accumulated error (from the scheduling delay).",
    /** Returns an explanation when the value is out of range. */
    check: nonNegative,
  },
  "spate.backpressure.pid.derived": {
    type: "number",
    default: 0.0,
    doc: "Backpressure PID estimator: weight of the error's rate of change.",
    /** Returns an explanation when the value is out of range. */
    check: nonNegative,
  },
  "spate.backpressure.pid.minRate": {
    type: "number",
    default: 100,
    doc: "Backpressure PID estimator: the lowest rate (records/s) it ever sets.",
    /** Returns an explanation when the value is out of range. */
    check: (v: number) => (Number.isFinite(v) && v > 0 ? undefined : "a number > 0"),
  },
  "spate.stopGracefullyOnShutdown": {
    type: "boolean",
    default: false,
    doc: "On SIGTERM/SIGINT, stop gracefully: finish received data, write the last checkpoint.",
  },
  "spate.ui.port": {
    type: "number",
    default: 4040,
    doc: "Port of the streaming web UI; 0 turns it off. When it is taken, the next 16 ports are tried (as Spark). The SPATE_UI_PORT environment variable replaces the default.",
    /** Returns an explanation when the value is out of range. */
    check: (v: number) =>
      Number.isInteger(v) && v >= 0 && v <= 65535 ? undefined : "a port number, 0 to 65535",
    env: "SPATE_UI_PORT",
  },
  "spate.ui.host": {
    type: "string",
    default: "127.0.0.1",
    doc: "Address the streaming web UI listens on; the default serves this machine only (0.0.0.0: every interface).",
    /** Returns an explanation when the value is out of range. */
    check: (v: string) => (v.trim() !== "" ? undefined : "a host name or address"),
  },
  "spate.ui.retainedBatches": {
    type: "number",
    default: 1000,
    doc: "Completed batches the streaming UI and its API remember (Spark's spark.streaming.ui.retainedBatches).",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.ui.stateQuery": {
    type: "string",
    default: "loopback",
    doc: "Who may query state by key (GET /api/v1/streaming/state/<operator>, the /state page): loopback (clients on this machine only), any, or off.",
    /** Returns an explanation when the value is out of range. */
    check: (v: string) => (["loopback", "any", "off"].includes(v) ? undefined : "loopback, any or off"),
  },
  "spate.state.maxParallelism": {
    type: "number",
    default: 128,
    doc: "Key groups of keyed state (Flink's max parallelism): the most partitions a stateful operator can have. Fixed at the first start: a checkpoint restores into any partition count up to it, never into another value.",
    /** Returns an explanation when the value is out of range. */
    check: (v: number) =>
      Number.isInteger(v) && v >= 1 && v <= 32768 ? undefined : "a whole number from 1 to 32768",
  },
  "spate.state.backend": {
    type: "string",
    default: "memory",
    doc: 'Where the state of stateful operators lives: "memory" (the JS heap; fastest while it fits) or "lmdb" (LMDB files in spate.state.dir, outside the heap: for state larger than memory). State is restored from checkpoints either way. The SPATE_STATE_BACKEND environment variable replaces the default.',
    /** Returns an explanation when the value is out of range. */
    check: (v: string) => (v === "memory" || v === "lmdb" ? undefined : '"memory" or "lmdb"'),
    env: "SPATE_STATE_BACKEND",
  },
  "spate.state.dir": {
    type: "string",
    default: undefined,
    doc: "Where local state stores (the lmdb backend) keep their files: each context makes a fresh folder in it, removed when the context stops; unset: the system's temporary folder. State is restored from checkpoints, not from these files. The SPATE_STATE_DIR environment variable replaces the default.",
    /** Returns an explanation when the value is out of range. */
    check: (v: string) => (v.trim() !== "" ? undefined : "a folder path"),
    env: "SPATE_STATE_DIR",
  },
  "spate.errors.onRecordFailure": {
    type: "string",
    default: "fail",
    doc: 'What a record does whose per-record function (map, flatMap, filter, mapValues, flatMapValues, reduce and combine functions, key functions, updateStateByKey and mapWithState functions) throws: "fail" fails the batch; "skip" drops the record, counts and logs it; "deadLetter" also writes it and its error to spate.errors.deadLetter.dir.',
    /** Returns an explanation when the value is out of range. */
    check: (v: string) =>
      v === "fail" || v === "skip" || v === "deadLetter" ? undefined : 'one of "fail", "skip", "deadLetter"',
  },
  "spate.errors.deadLetter.dir": {
    type: "string",
    default: undefined,
    doc: 'The folder of dead letters (a JSON line per dropped record, a file per batch) under "deadLetter"; unset: <checkpoint folder>/dead-letters, required without a checkpoint folder.',
    /** Returns an explanation when the value is out of range. */
    check: (v: string) => (v.trim() !== "" ? undefined : "a folder path"),
  },
  "spate.default.parallelism": {
    type: "number",
    default: undefined,
    doc: "Partitions of shuffles and sources when not given; unset: sources give one partition, shuffles keep their parent's count.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
  },
  "spate.executor.threads": {
    type: "number",
    default: 1,
    doc: "Worker threads that compute partitions, each owning the partitions p with p % threads equal to its index and their state; 1 computes everything on the main thread. More than 1 needs the job's module (spate run, or the jobModule option). The SPATE_EXECUTOR_THREADS environment variable replaces the default.",
    /** Returns an explanation when the value is out of range. */
    check: positiveInt,
    env: "SPATE_EXECUTOR_THREADS",
  },
} satisfies Record<string, Setting<any>>;

export type SettingKey = keyof typeof SETTINGS;

function coerce(key: string, setting: Setting<ConfValue>, raw: ConfValue): ConfValue {
  let value: ConfValue = raw;
  if (
    setting.type === "number" &&
    typeof raw === "string" &&
    raw.trim() !== "" &&
    !Number.isNaN(Number(raw))
  ) {
    value = Number(raw);
  } else if (setting.type === "boolean" && (raw === "true" || raw === "false")) {
    value = raw === "true";
  }
  if (typeof value !== setting.type) {
    throw new ConfigError(
      "SPATE_INVALID_CONF",
      `Setting "${key}" must be a ${setting.type} (got ${JSON.stringify(raw)}): ${setting.doc}`,
    );
  }
  const problem = setting.check?.(value as never);
  if (problem) {
    throw new ConfigError(
      "SPATE_INVALID_CONF",
      `Setting "${key}" must be ${problem} (got ${JSON.stringify(raw)}).`,
    );
  }
  return value;
}

/** Validated settings of one context: `spate.*` keys are checked and typed, other keys are the user's own. */
export class SpateConf {
  private readonly values = new Map<string, ConfValue>();
  /** Defaults replaced by environment variables (`env` of a setting), read once at construction. */
  private readonly envDefaults = new Map<string, ConfValue>();

  constructor(raw: Record<string, ConfValue> = {}) {
    for (const [key, value] of Object.entries(raw)) this.set(key, value);
    for (const [key, setting] of Object.entries(SETTINGS as Record<string, Setting<ConfValue>>)) {
      if (setting.env === undefined || this.values.has(key)) continue;
      const fromEnv = process.env[setting.env];
      if (fromEnv === undefined || fromEnv === "") continue;
      try {
        this.envDefaults.set(key, coerce(key, setting, fromEnv));
      } catch (e) {
        throw new ConfigError(
          "SPATE_INVALID_CONF",
          `Environment variable ${setting.env} (the default of "${key}"): ${(e as Error).message}`,
        );
      }
    }
  }

  /** Sets a setting; an unknown `spate.*` key or a value of the wrong type fails with `SPATE_UNKNOWN_CONF` or `SPATE_INVALID_CONF`. */
  set(key: string, value: ConfValue): void {
    if (key.startsWith("spate.")) {
      const setting = (SETTINGS as Record<string, Setting<ConfValue>>)[key];
      if (!setting) {
        const known = Object.keys(SETTINGS).join(", ");
        throw new ConfigError(
          "SPATE_UNKNOWN_CONF",
          `Unknown setting "${key}". Known spate.* settings: ${known}.`,
        );
      }
      this.values.set(key, coerce(key, setting, value));
    } else {
      this.values.set(key, value);
    }
  }

  /** A setting's value: the one set, else its environment variable's, else its default. */
  get<K extends SettingKey>(key: K): (typeof SETTINGS)[K]["default"] | ConfValue {
    if (this.values.has(key)) return this.values.get(key)!;
    return this.envDefaults.has(key) ? this.envDefaults.get(key)! : SETTINGS[key].default;
  }

  /** A numeric setting's value, if any. */
  getNumber(key: SettingKey): number | undefined {
    const v = this.get(key);
    return typeof v === "number" ? v : undefined;
  }

  /** A boolean setting's value. */
  getBoolean(key: SettingKey): boolean {
    return this.get(key) === true;
  }

  /** The user's own (non-spate) key, or undefined. */
  getRaw(key: string): ConfValue | undefined {
    return this.values.get(key);
  }

  /** The settings given, as a plain object. */
  toJSON(): Record<string, ConfValue> {
    return Object.fromEntries(this.values);
  }
}
