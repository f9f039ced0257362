// The job of the state-size guard's tests, run as a child process with a small heap (node --max-old-space-size):
// mapWithState on one partition, fed batches of keys by a ManualClock.
//   grow:   every batch brings new keys, until the context fails;
//   steady: new keys until state fills `fill` of the heap's limit (live, after a full collection: needs
//           --expose-gc), then batches that update those keys and leave garbage behind, with a few new keys each
//           (the guard looks at the heap as keys are added), which must all pass.
// Prints one JSON line: what failed (code, message, fields) and the keys the store held after the failure, or the
// batches run and keys held.
import { ManualClock, type SpateError, type State, StateSpec, StreamingContext } from "spate";
import { heapUse } from "../../src/state/heapGuard.js";

const [mode, perBatchArg, fillArg] = process.argv.slice(2) as ["grow" | "steady", string, string | undefined];
const perBatch = Number(perBatchArg);
const clock = new ManualClock(0);
const queue: Array<Array<[string, number]>> = [];
const ssc = new StreamingContext({ batchDuration: 1000, clock, conf: { "spate.ui.port": 0 } });
ssc
  .queueStream(queue, true)
  .mapWithState(
    StateSpec.function((_k: string, v: number | undefined, state: State<number>) => {
      state.update((state.getOption() ?? 0) + (v ?? 0));
    }).numPartitions(1),
  )
  .uid("sessions")
  .foreachRDD(() => {});
let keysCommitted = 0;
ssc.addStreamingListener({
  onBatchCompleted: ({ batchInfo }) => {
    if (batchInfo.stateChanges) keysCommitted = batchInfo.stateChanges.reduce((n, c) => n + c.keys, 0);
  },
});
await ssc.start();
// The store, to check that a failed batch left it at the previous batch (not public API).
const store = () =>
  [...(ssc as unknown as { stateStores: { stores(): Iterable<{ size: number }> } }).stateStores.stores()][0];

let created = 0;
const step = async (records: Array<[string, number]>) => {
  queue.push(records);
  clock.advance(1000);
  await ssc.awaitIdle();
};
const newKeys = (n: number): Array<[string, number]> =>
  Array.from({ length: n }, () => [`user-${created++}`, 1] as [string, number]);

try {
  if (mode === "grow") {
    for (let b = 0; b < 100_000; b++) await step(newKeys(perBatch));
    throw new Error("the state never grew too large");
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("steady needs node --expose-gc");
  const fill = Number(fillArg);
  let batches = 0;
  for (;;) {
    gc();
    const use = heapUse();
    if (use.used >= fill * use.limit) break;
    await step(newKeys(perBatch));
    batches++;
  }
  gc();
  const live = heapUse();
  // Updates of existing keys, with a garbage string per record, and a few new keys per batch so that the guard
  // looks at the heap while it is full of garbage.
  for (let b = 0; b < 40; b++) {
    const records = Array.from(
      { length: 50_000 },
      (_, i) => [`user-${(b * 50_000 + i) % created}`, `${i}-${b}`.repeat(20).length] as [string, number],
    );
    records.push(...newKeys(2000));
    await step(records);
    batches++;
  }
  process.stdout.write(
    `${JSON.stringify({ ok: true, batches, keys: store()?.size, liveShare: live.used / live.limit })}\n`,
  );
  await ssc.stop();
  process.exit(0);
} catch (e) {
  const error = e as SpateError & Record<string, unknown>;
  process.stdout.write(
    `${JSON.stringify({
      ok: false,
      code: error.code,
      name: error.name,
      message: error.message,
      operatorId: error.operatorId,
      operatorName: error.operatorName,
      keys: error.keys,
      heapUsed: error.heapUsed,
      heapLimit: error.heapLimit,
      batchTime: error.batchTime,
      keysCommitted,
      keysAfter: store()?.size,
      created,
    })}\n`,
  );
  process.exit(0);
}
