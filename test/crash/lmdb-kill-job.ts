// The job of the LMDB kill-point crash test, run as a child process: word counts with state in LMDB
// (updateStateByKey and mapWithState), a data checkpoint every batch (deltas, a full snapshot every third), and a
// kill point: the process SIGKILLs itself in the middle of an LMDB write transaction (mode "commit": after the
// second key a commit writes into a store, before that transaction commits), or in the middle of a data
// checkpoint (mode "checkpoint": while a state file is being written, or after it and before the metadata that
// points at it). It writes a marker file just before, so that the test knows the kill point was reached.
import { renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  type CheckpointStore,
  FileCheckpointStore,
  lmdbStateBackend,
  type RDD,
  type State,
  type StateBackend,
  StateSpec,
  type StateStore,
  StreamingContext,
} from "spate";

const [checkpointDir, inputDir, outputDir, mode, occurrence] = process.argv.slice(2) as [
  string,
  string,
  string,
  "commit" | "checkpoint" | "final",
  string,
];
const BATCH = 200;
const nth = Number(occurrence);

function die(where: string): never {
  writeFileSync(path.join(outputDir, `killed-${Date.now()}-${where}`), "");
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
}

/**
 * Makes the stores' next LMDB write transaction with at least two keys die after its second key: the store's
 * database handle is reached through the store's own field (a test-only kill point, not an API).
 */
function armMidTransaction(store: StateStore<unknown, unknown>): void {
  const db = (store as unknown as { main: { putSync(k: unknown, v: unknown): void } }).main;
  const putSync = db.putSync.bind(db);
  let puts = 0;
  db.putSync = (k, v) => {
    putSync(k, v);
    if (++puts === 2) die("commit");
  };
  const commit = store.commit.bind(store);
  store.commit = (version) => {
    puts = 0;
    commit(version);
  };
}

const backend: StateBackend = {
  name: "lmdb (with a kill point)",
  createProvider(env) {
    const inner = lmdbStateBackend.createProvider(env);
    const commitAll = inner.commitAll.bind(inner);
    let commits = 0;
    inner.commitAll = (version) => {
      if (mode === "commit" && ++commits === nth) for (const s of inner.stores()) armMidTransaction(s);
      return commitAll(version);
    };
    return inner;
  },
};

/** The file store, with a kill point in the middle of the nth data checkpoint. */
function checkpointStore(): CheckpointStore {
  const inner = new FileCheckpointStore(checkpointDir);
  let stateFiles = 0;
  return {
    location: inner.location,
    async write(name, data) {
      if (mode !== "checkpoint" || !name.startsWith("state-") || ++stateFiles !== nth) {
        return inner.write(name, data);
      }
      if (nth % 2 === 0) {
        // While the state file is being written.
        const writing = inner.write(name, data);
        setImmediate(() => die("checkpoint-writing"));
        return writing;
      }
      // Once the state file is written, before the metadata that points at it.
      await inner.write(name, data);
      die("checkpoint-written");
    },
    read: (name) => inner.read(name),
    list: () => inner.list(),
    delete: (name) => inner.delete(name),
    readRecord: (name) => inner.readRecord(name),
    compareAndSetRecord: (name, data, expected) => inner.compareAndSetRecord(name, data, expected),
  };
}

function save<T>(name: string, format: (x: T) => [string, number]) {
  return async (rdd: RDD<T>, time: number) => {
    const pairs = (await rdd.collect()).map(format).sort(([a], [b]) => (a < b ? -1 : 1));
    const file = path.join(outputDir, `${name}-${time}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(pairs));
    renameSync(`${file}.tmp`, file);
  };
}

function create(): StreamingContext {
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    appName: "crash-lmdb",
    stateBackend: backend,
    conf: {
      "spate.checkpoint.interval": BATCH,
      "spate.checkpoint.fullSnapshotEvery": 3,
      "spate.checkpoint.retain": 4,
      "spate.default.parallelism": 2,
    },
  });
  const words = ssc
    .textFileStream(inputDir)
    .flatMap((l) => l.split(" ").slice(1))
    .map((w) => [w, 1] as [string, number]);
  words
    .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
    .uid("totals")
    .foreachRDD(save<[string, number]>("totals", (kv) => kv));
  words
    .mapWithState(
      StateSpec.function((_w: string, one: number | undefined, state: State<{ n: number }>) => {
        state.update({ n: (state.getOption()?.n ?? 0) + (one ?? 0) });
      }),
    )
    .uid("counts")
    .stateSnapshots()
    .foreachRDD(save<[string, { n: number }]>("counts", ([k, s]) => [k, s.n]));
  return ssc;
}

const ssc = await StreamingContext.getOrCreate(checkpointStore(), create);
await ssc.start();
process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
if (mode === "final") {
  process.stdin.once("data", () => {
    void ssc.stop({ stopGracefully: true }).then(() => process.exit(0));
  });
}
await ssc.awaitTermination();
