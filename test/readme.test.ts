// The README's examples, run as written (with temporary folders and a ManualClock where the README uses defaults).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  ManualClock,
  memoryStateBackend,
  Receiver,
  Seconds,
  type State,
  type StateBackend,
  StateSpec,
  type StateStoreOptions,
  StreamingContext,
} from "spate";
import { checkStateBackend } from "spate/testing";
import { describe, expect, it } from "vitest";

describe("README examples", () => {
  it("state backends: checkStateBackend passes spate's backends and catches a store that does not abort", async () => {
    await checkStateBackend(memoryStateBackend, { numRuns: 50 });
    const noAbort: StateBackend = {
      name: "no-abort",
      createProvider(env) {
        const provider = memoryStateBackend.createProvider(env);
        const getStore = provider.getStore.bind(provider);
        provider.getStore = <K, S>(operatorId: string, partition: number, options?: StateStoreOptions) => {
          const store = getStore<K, S>(operatorId, partition, options);
          store.abort = () => {};
          return store;
        };
        return provider;
      },
    };
    await expect(checkStateBackend(noAbort, { numRuns: 200 })).rejects.toThrow(/Counterexample/);
  });

  it("checkpoints and recovery: the word-total job resumes from its checkpoint", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-readme-"));
    const incoming = path.join(base, "incoming");
    mkdirSync(incoming);
    const totals = path.join(base, "out", "totals");
    function create(): StreamingContext {
      const ssc = new StreamingContext({ batchDuration: Seconds(1), clock: new ManualClock(0) });
      ssc
        .textFileStream(incoming)
        .flatMap((line) => line.split(" "))
        .map((w) => [w, 1] as [string, number])
        .mapWithState(
          StateSpec.function((w: string, one: number | undefined, state: State<number>) => {
            state.update((state.getOption() ?? 0) + (one ?? 0));
            return [w, state.get()] as [string, number];
          }),
        )
        .uid("word-totals")
        .saveAsTextFiles(totals);
      return ssc;
    }
    const checkpoints = path.join(base, "checkpoints");
    const first = await StreamingContext.getOrCreate(checkpoints, create);
    await first.start();
    writeFileSync(path.join(incoming, "a.txt"), "to be or\nnot to be\n");
    (first.clock as ManualClock).advance(1000);
    await first.awaitIdle();
    await first.stop();
    const second = await StreamingContext.getOrCreate(checkpoints, create);
    await second.start();
    writeFileSync(path.join(incoming, "b.txt"), "to be\n");
    (second.clock as ManualClock).advance(1000);
    await second.awaitIdle();
    await second.stop();
    const read = (t: number) =>
      readFileSync(path.join(`${totals}-${t}`, "part-00000"), "utf8")
        .split("\n")
        .filter(Boolean)
        .sort();
    expect(read(1000)).toEqual(["(be,1)", "(be,2)", "(not,1)", "(or,1)", "(to,1)", "(to,2)"]);
    expect(read(2000)).toEqual(["(be,3)", "(to,3)"]);
    expect(readdirSync(base).sort()).toEqual(["checkpoints", "incoming", "out"]);
  });

  it("receivers: the Ticker stores numbers that reach batches", async () => {
    class Ticker extends Receiver<number> {
      private timer?: NodeJS.Timeout;
      onStart() {
        let n = 0;
        this.timer = setInterval(() => void this.store(n++), 10);
      }
      onStop() {
        clearInterval(this.timer);
      }
    }
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    const seen: number[] = [];
    ssc.receiverStream(new Ticker()).foreachRDD(async (rdd) => void seen.push(...(await rdd.collect())));
    await ssc.start();
    await new Promise((r) => setTimeout(r, 120));
    clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop();
    expect(seen.length).toBeGreaterThan(3);
    expect(seen).toEqual(seen.map((_, i) => i));
  });
});
