// spate.receiver.maxRate on a ManualClock: store() resolves only as the token bucket allows, batches never hold
// more than the rate allows, order is kept, nothing is dropped; and the limiter itself, rate changes included.
import { ManualClock, Receiver, type SpateError, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "../../src/flow/RateLimiter.js";
import { rejection } from "../support/rejection.js";

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

async function advance(clock: ManualClock, ms: number) {
  await flush();
  clock.advance(ms);
  await flush();
}

class Manual extends Receiver<number> {
  onStart() {}
  onStop() {}
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function limitedContext(conf: Record<string, number | boolean>) {
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({ batchDuration: 1000, clock, conf });
  const receiver = new Manual();
  const batches: Array<[number, number[]]> = [];
  ssc
    .receiverStream(receiver)
    .foreachRDD(async (rdd, time) => void batches.push([time, await rdd.collect()]));
  const stored = () => ssc.receiverInfos()[0]!.recordsStored;
  return { clock, ssc, receiver, batches, stored };
}

describe("spate.receiver.maxRate", () => {
  it("admits records at the rate: store resolves only when the bucket allows, batches stay within the rate", async () => {
    const { clock, ssc, receiver, batches, stored } = limitedContext({ "spate.receiver.maxRate": 10 });
    await ssc.start();
    expect(ssc.receiverInfos()[0]!.rateLimit).toBe(10);
    let resolved = false;
    const done = receiver.store(range(0, 25)).then(() => void (resolved = true));
    await flush();
    expect(stored()).toBe(0); // the bucket starts empty
    for (let t = 100; t < 2500; t += 100) {
      await advance(clock, 100);
      expect(stored()).toBe(t / 100);
      expect(resolved).toBe(false);
    }
    await advance(clock, 100);
    expect(stored()).toBe(25);
    expect(resolved).toBe(true);
    await done;
    await advance(clock, 500);
    await ssc.awaitIdle();
    await ssc.stop();
    expect(batches.map(([t]) => t)).toEqual([1000, 2000, 3000]);
    for (const [, records] of batches) expect(records.length).toBeLessThanOrEqual(10);
    expect(batches.flatMap(([, r]) => r)).toEqual(range(0, 25));
  });

  it("keeps the order of concurrent stores, and a burst after idling is at most one second's worth", async () => {
    const { clock, ssc, receiver, batches } = limitedContext({ "spate.receiver.maxRate": 20 });
    await ssc.start();
    await advance(clock, 5000); // idle: the bucket fills up to 20 tokens, no more
    const first = receiver.store(range(0, 30));
    const second = receiver.store(100);
    const third = receiver.store([200, 201]);
    await flush();
    const admittedAtOnce = ssc.receiverInfos()[0]!.recordsStored;
    expect(admittedAtOnce).toBe(20);
    await advance(clock, 1000);
    await Promise.all([first, second, third]);
    await advance(clock, 1000);
    await ssc.awaitIdle();
    await ssc.stop();
    expect(batches.flatMap(([, r]) => r)).toEqual([...range(0, 30), 100, 200, 201]);
  });

  it("never drops: records still waiting when the receiver stops are rejected, everything admitted is processed", async () => {
    const { clock, ssc, receiver, batches, stored } = limitedContext({ "spate.receiver.maxRate": 10 });
    await ssc.start();
    const waiting = receiver.store(range(0, 25));
    for (let i = 0; i < 5; i++) await advance(clock, 100);
    expect(stored()).toBe(5);
    // A graceful stop: the receiver stops, the last batch (time 1000) is cut at once for the 5 records received.
    await ssc.stop({ stopGracefully: true });
    const error: SpateError = await rejection(waiting);
    expect(error.code).toBe("SPATE_CONTEXT_STOPPED");
    expect(batches).toEqual([[1000, range(0, 5)]]);
    expect(clock.getTimeMillis()).toBe(500);
  });

  it("with backpressure, starts at initialRate, never above maxRate", async () => {
    const rateOf = async (conf: Record<string, number | boolean>) => {
      const { ssc } = limitedContext(conf);
      await ssc.start();
      const rate = ssc.receiverInfos()[0]!.rateLimit;
      await ssc.stop();
      return rate;
    };
    expect(await rateOf({})).toBeUndefined();
    expect(await rateOf({ "spate.receiver.maxRate": 100 })).toBe(100);
    expect(await rateOf({ "spate.backpressure.enabled": true })).toBeUndefined();
    expect(await rateOf({ "spate.backpressure.enabled": true, "spate.backpressure.initialRate": 500 })).toBe(
      500,
    );
    expect(
      await rateOf({
        "spate.backpressure.enabled": true,
        "spate.backpressure.initialRate": 500,
        "spate.receiver.maxRate": 100,
      }),
    ).toBe(100);
    // initialRate means nothing without backpressure (as in Spark's documentation).
    expect(await rateOf({ "spate.backpressure.initialRate": 500 })).toBeUndefined();
  });
});

describe("RateLimiter", () => {
  it("serves requests in order; a rate change applies to the ones waiting", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter(clock, 10);
    const done: string[] = [];
    const p = [
      limiter.acquire(1).then(() => done.push("a")),
      limiter.acquire(5).then(() => done.push("b")),
      limiter.acquire(1).then(() => done.push("c")),
    ];
    clock.advance(100);
    await flush();
    expect(done).toEqual(["a"]);
    clock.advance(400);
    await flush();
    expect(done).toEqual(["a"]); // b needs 5 tokens: 0.5 s at 10/s
    clock.advance(100);
    await flush();
    expect(done).toEqual(["a", "b"]);
    limiter.setRate(1); // c now needs a whole second
    clock.advance(999);
    await flush();
    expect(done).toEqual(["a", "b"]);
    clock.advance(1);
    await flush();
    expect(done).toEqual(["a", "b", "c"]);
    await Promise.all(p);
  });

  it("a request larger than the bucket goes into debt instead of waiting forever", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter(clock, 10);
    const done: string[] = [];
    void limiter.acquire(50).then(() => done.push("big"));
    void limiter.acquire(1).then(() => done.push("next"));
    clock.advance(1000); // a full bucket (10): the big request goes, 40 in debt
    await flush();
    expect(done).toEqual(["big"]);
    clock.advance(4000);
    await flush();
    expect(done).toEqual(["big"]);
    clock.advance(100); // the debt paid, one more token
    await flush();
    expect(done).toEqual(["big", "next"]);
  });

  it("no limit releases everything waiting; cancelAll rejects what waits", async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter(clock, 1);
    const released = limiter.acquire(3);
    limiter.setRate(undefined);
    await released;
    expect(limiter.unlimited).toBe(true);
    limiter.setRate(1);
    const waiting = limiter.acquire(1);
    limiter.cancelAll(new Error("stopped"));
    await expect(waiting).rejects.toThrow("stopped");
  });
});
