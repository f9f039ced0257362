// The job of the typed-state crash test, run as a child process: word counts kept as instances of registered
// classes (updateStateByKey; mapWithState changing its state in place without update(); window values), whose
// methods are called on every batch. Each batch's results are written as JSON files named by batch time.
import { renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { isMainThread } from "node:worker_threads";
import { type JobArgs, type RDD, type State, StateSpec, StreamingContext } from "spate";

type Args = [checkpointDir: string, inputDir: string, outputDir: string, mode: string];
/** The output folder of the job built last (its outputs run where it was built: the driver). */
let outputDir = "";
const BATCH = 200;

export class Tally {
  count = 0;
  add(n: number): this {
    this.count += n;
    return this;
  }
}

export class Session {
  words: string[] = [];
  push(word: string): void {
    this.words.push(word);
  }
  size(): number {
    return this.words.length;
  }
}

export class Stamp {
  constructor(readonly n: number) {}
  plus(o: Stamp): Stamp {
    return new Stamp(this.n + o.n);
  }
  minus(o: Stamp): Stamp {
    return new Stamp(this.n - o.n);
  }
}

function save<T>(name: string, format: (x: T) => [string, number]) {
  return async (rdd: RDD<T>, time: number) => {
    const pairs = (await rdd.collect()).map(format).sort(([a], [b]) => (a < b ? -1 : 1));
    const file = path.join(outputDir, `${name}-${time}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(pairs));
    renameSync(`${file}.tmp`, file);
  };
}

/** Builds the job from its arguments; the module is its own jobModule (worker threads rebuild the same graph). */
export default function createContext(job: JobArgs): StreamingContext {
  const [, inputDir, output] = job.args as Args;
  outputDir = output;
  const ssc = new StreamingContext({
    jobModule: { url: import.meta.url, args: job.args },
    batchDuration: BATCH,
    appName: "crash-typed-state",
    conf: {
      "spate.checkpoint.interval": 2 * BATCH,
      "spate.checkpoint.retain": 4,
      "spate.default.parallelism": 2,
    },
  });
  ssc.registerClasses(Tally, Session, Stamp);
  const lines = ssc.textFileStream(inputDir);
  lines.foreachRDD(async (rdd, time) => {
    const file = path.join(outputDir, `input-${time}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(await rdd.collect()));
    renameSync(`${file}.tmp`, file);
  });
  const words = lines.flatMap((l) => l.split(" ").slice(1)).map((w) => [w, 1] as [string, number]);
  words
    .updateStateByKey((vs: number[], s: Tally | undefined) => (s ?? new Tally()).add(vs.length))
    .uid("tallies")
    .foreachRDD(save<[string, Tally]>("tallies", ([k, t]) => [k, t.add(0).count]));
  words
    .mapWithState(
      StateSpec.function((w: string, _one: number | undefined, state: State<Session>) => {
        if (state.exists())
          state.get().push(w); // changed in place, without update()
        else {
          const s = new Session();
          s.push(w);
          state.update(s);
        }
      }),
    )
    .uid("sessions")
    .stateSnapshots()
    .foreachRDD(save<[string, Session]>("sessions", ([k, s]) => [k, s.size()]));
  words
    .map(([w]) => [w, new Stamp(1)] as [string, Stamp])
    .reduceByKeyAndWindow(
      (a, b) => a.plus(b),
      (a, b) => a.minus(b),
      3 * BATCH,
      BATCH,
    )
    .uid("window")
    .foreachRDD(save<[string, Stamp]>("window", ([k, s]) => [k, s.plus(new Stamp(0)).n]));
  return ssc;
}

// Run as a program; a worker thread only imports the module.
if (
  isMainThread &&
  process.argv[1] &&
  import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href
) {
  const args = process.argv.slice(2);
  const [checkpointDir, , , mode] = args as Args;
  const ssc = await StreamingContext.getOrCreate(checkpointDir, () =>
    createContext({ args, role: "driver" }),
  );
  await ssc.start();
  process.stdout.write(`started ${ssc.restoredFrom ? `restored ${ssc.restoredFrom.batchTime}` : "fresh"}\n`);
  if (mode === "final") {
    process.stdin.once("data", () => {
      void ssc.stop({ stopGracefully: true }).then(() => process.exit(0));
    });
  }
  await ssc.awaitTermination();
}
