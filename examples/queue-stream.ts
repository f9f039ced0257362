// Queue stream: Spark's QueueStream example. Batches of numbers are pushed into a queue while the job runs; each
// second the job counts the numbers of the batch by their last digit, and keeps a running total per digit with
// mapWithState.
import { Seconds, type State, StateSpec, StreamingContext } from "spate";

export function createContext(batches: number[][]): StreamingContext {
  const ssc = new StreamingContext({ batchDuration: Seconds(1), appName: "queue-stream" });
  const byDigit = ssc.queueStream(batches).map((n) => [n % 10, 1] as [number, number]);
  byDigit.reduceByKey((a, b) => a + b).print();
  const totals = byDigit.mapWithState(
    StateSpec.function((digit: number, count: number | undefined, state: State<number>) => {
      const total = (state.getOption() ?? 0) + (count ?? 0);
      state.update(total);
      return [digit, total] as [number, number];
    }),
  );
  totals.stateSnapshots().print();
  return ssc;
}

async function main(): Promise<void> {
  const rounds = Number(process.env.ROUNDS ?? 5);
  const queue: number[][] = [];
  const ssc = createContext(queue);
  await ssc.start();
  for (let i = 0; i < rounds; i++) {
    queue.push(Array.from({ length: 100 }, (_, j) => i * 100 + j));
    await new Promise((r) => setTimeout(r, 1000));
  }
  await ssc.stop({ stopGracefully: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
