// A long run on a ManualClock that samples memory: `node --expose-gc --import tsx test/soak/soak-job.ts '<json>'`
// with the options of `SoakOptions`. Every `sampleEvery` batches it collects garbage twice and prints one JSON line
// `{ batch, heap, rss, metadataBytes, uiBatches }` on stdout; the soak test (test/soak/soak.test.ts) and the bench's
// `soak` scenario (bench/soak.ts) read them. Every stateful operator, with checkpointing on (except for the queue,
// which cannot be replayed), each fed by one of the sources: a queue, a folder of files, a receiver with the
// write-ahead log.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as v8 from "node:v8";
import { type DStream, ManualClock, Receiver, type State, StateSpec, StreamingContext } from "spate";
import { random } from "../../bench/measure.js";

export const OPERATORS = [
  "updateStateByKey",
  "mapWithState",
  "stateSnapshots",
  "reduceByKeyAndWindow-inverse",
  "reduceByKeyAndWindow-inverse-filter",
  "reduceByKeyAndWindow",
  "groupByKeyAndWindow",
  "countByValueAndWindow",
] as const;
export type SoakOperator = (typeof OPERATORS)[number];
export type SoakSource = "queue" | "files" | "receiver";

export interface SoakOptions {
  source: SoakSource;
  operators: SoakOperator[];
  batches: number;
  sampleEvery: number;
  /** Size of the key space the words are drawn from. */
  keys: number;
  wordsPerBatch: number;
  /** Serve the web UI (its listener keeps `spate.ui.retainedBatches` batches). */
  ui: boolean;
}

export interface SoakSample {
  batch: number;
  heap: number;
  rss: number;
  /** Bytes of the newest metadata checkpoint file (0 without checkpointing). */
  metadataBytes: number;
  /** Completed batches the web UI's listener holds (-1 without the UI). */
  uiBatches: number;
}

const BATCH = 100;

class PushReceiver extends Receiver<string> {
  onStart() {}
  onStop() {}
  push(words: string[]): Promise<void> {
    return this.store(words);
  }
}

function addOperator(pairs: DStream<[string, number]>, op: SoakOperator, sink: (n: number) => void): void {
  const count = (s: DStream<any>) =>
    s.foreachRDD(async (rdd) => {
      sink(await rdd.count());
    });
  const sum = (a: number, b: number) => a + b;
  const minus = (a: number, b: number) => a - b;
  switch (op) {
    case "updateStateByKey":
      count(pairs.updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length));
      return;
    case "mapWithState":
    case "stateSnapshots": {
      const mapped = pairs.mapWithState(
        StateSpec.function((w: string, v: number | undefined, state: State<number>) => {
          if (state.isTimingOut()) return undefined;
          state.update((state.getOption() ?? 0) + (v ?? 0));
          return [w, state.get()] as [string, number];
        }).timeout(20 * BATCH),
      );
      count(op === "mapWithState" ? mapped : mapped.stateSnapshots());
      return;
    }
    case "reduceByKeyAndWindow-inverse":
      count(pairs.reduceByKeyAndWindow(sum, minus, 30 * BATCH, 5 * BATCH));
      return;
    case "reduceByKeyAndWindow-inverse-filter":
      count(pairs.reduceByKeyAndWindow(sum, minus, 30 * BATCH, 5 * BATCH, undefined, ([, n]) => n > 0));
      return;
    case "reduceByKeyAndWindow":
      count(pairs.reduceByKeyAndWindow(sum, 30 * BATCH, 5 * BATCH));
      return;
    case "groupByKeyAndWindow":
      count(pairs.groupByKeyAndWindow(30 * BATCH, 5 * BATCH));
      return;
    case "countByValueAndWindow":
      count(pairs.map(([w]) => w).countByValueAndWindow(30 * BATCH, 5 * BATCH));
      return;
  }
}

/** Node's http client rather than fetch: fetch needs WebAssembly, which --jitless turns off. */
function uiBatchCount(ssc: StreamingContext): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(`${ssc.uiUrl}/api/v1/streaming/batches?status=completed`, (res) => {
        let body = "";
        res.on("data", (d) => {
          body += String(d);
        });
        res.on("end", () => resolve((JSON.parse(body) as unknown[]).length));
      })
      .on("error", reject);
  });
}

function newestMetadataBytes(dir: string): number {
  const names = readdirSync(dir)
    .filter((n) => n.startsWith("metadata-"))
    .sort();
  const newest = names.at(-1);
  return newest ? statSync(path.join(dir, newest)).size : 0;
}

export async function soak(o: SoakOptions, report: (s: SoakSample) => void): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("the soak needs node --expose-gc");
  // In memory where the machine has it: the soak measures memory, not the disk, and thousands of fsyncs would make
  // it slow.
  const base = mkdtempSync(path.join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "spate-soak-"));
  const checkpoint = path.join(base, "checkpoint");
  const input = path.join(base, "input");
  mkdirSync(input);
  const clock = new ManualClock(0);
  const queue: string[][] = [];
  const receiver = new PushReceiver();
  const ssc = new StreamingContext({
    batchDuration: BATCH,
    clock,
    appName: `soak-${o.source}`,
    conf: {
      "spate.checkpoint.interval": 10 * BATCH,
      "spate.receiver.writeAheadLog.enable": o.source === "receiver",
      // A port of its own per process (the next ones are tried when taken), so the UI's listener runs.
      "spate.ui.port": o.ui ? 20_000 + (process.pid % 20_000) : 0,
      "spate.ui.retainedBatches": 100, // RETAINED in soak.test.ts
      "spate.default.parallelism": 2,
    },
  });
  if (o.source !== "queue") ssc.checkpoint(checkpoint);
  const words =
    o.source === "queue"
      ? ssc.queueStream(queue)
      : o.source === "files"
        ? ssc.textFileStream(input).flatMap((l) => l.split(" "))
        : ssc.receiverStream(receiver);
  const pairs = words.map((w) => [w, 1] as [string, number]);
  let outputs = 0;
  for (const op of o.operators) addOperator(pairs, op, () => outputs++);
  await ssc.start();
  const next = random(42);
  for (let b = 1; b <= o.batches; b++) {
    const batch: string[] = [];
    for (let i = 0; i < o.wordsPerBatch; i++) batch.push(`k${Math.floor(next() * o.keys)}`);
    if (o.source === "queue") queue.push(batch);
    else if (o.source === "files") {
      const file = path.join(input, `f${String(b).padStart(8, "0")}`);
      writeFileSync(file, batch.join(" "));
      // Modification times on the manual clock's scale (as Spark's tests set them), so that names of files older
      // than the remember window are forgotten as they would be on the system clock.
      utimesSync(file, (b * BATCH) / 1000, (b * BATCH) / 1000);
      // Files that no retained checkpoint needs any more are removed, as an operator of a real job would.
      if (b > 200) rmSync(path.join(input, `f${String(b - 200).padStart(8, "0")}`), { force: true });
    } else {
      // Several stores a batch, as a receiver makes: what is kept per store shows up ten times a batch.
      const stores: Array<Promise<void>> = [];
      for (let i = 0; i < batch.length; i += Math.ceil(o.wordsPerBatch / 10))
        stores.push(receiver.push(batch.slice(i, i + Math.ceil(o.wordsPerBatch / 10))));
      await Promise.all(stores);
    }
    clock.advance(BATCH);
    await ssc.awaitIdle();
    if (process.env.SOAK_HEAP_SNAPSHOTS && (b === o.batches / 2 || b === o.batches)) {
      gc();
      v8.writeHeapSnapshot(path.join(process.env.SOAK_HEAP_SNAPSHOTS, `heap-${b}.heapsnapshot`));
    }
    if (b % o.sampleEvery === 0) {
      gc();
      gc();
      const m = process.memoryUsage();
      if (process.env.SOAK_SPACES)
        process.stderr.write(
          `${b} ${v8
            .getHeapSpaceStatistics()
            .map((x) => `${x.space_name}=${x.space_used_size}`)
            .join(" ")}\n`,
        );
      report({
        batch: b,
        heap: m.heapUsed,
        rss: m.rss,
        metadataBytes: o.source === "queue" ? 0 : newestMetadataBytes(checkpoint),
        uiBatches: o.ui ? await uiBatchCount(ssc) : -1,
      });
    }
  }
  await ssc.stop();
  if (outputs === 0) throw new Error("soak self-check failed: no output ran");
  rmSync(base, { recursive: true, force: true });
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  const options = JSON.parse(process.argv[2]!) as SoakOptions;
  await soak(options, (s) => process.stdout.write(`${JSON.stringify(s)}\n`));
}
