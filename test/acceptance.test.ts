import { ManualClock, Seconds, StreamingContext } from "spate";
import { describe, expect, it } from "vitest";

describe("the core engine's acceptance job", () => {
  it("prints the window counts of reduceByKeyAndWindow with an inverse function, zero counts kept", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: Seconds(1), clock });
    const out: Array<[number, Array<[string, number]>]> = [];
    ssc
      .queueStream([["a", "b"], ["a"], [], ["b"]])
      .map((w) => [w, 1] as [string, number])
      .reduceByKeyAndWindow(
        (x, y) => x + y,
        (x, y) => x - y,
        Seconds(2),
        Seconds(1),
      )
      .foreachRDD(async (rdd, time) => {
        out.push([time, await rdd.collect()]);
      });
    await ssc.start();
    for (let i = 0; i < 4; i++) clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop();
    const sorted = out.map(([t, kvs]) => [t, [...kvs].sort()]);
    expect(sorted).toEqual([
      [
        1000,
        [
          ["a", 1],
          ["b", 1],
        ],
      ],
      [
        2000,
        [
          ["a", 2],
          ["b", 1],
        ],
      ],
      [
        3000,
        [
          ["a", 1],
          ["b", 0],
        ],
      ],
      [
        4000,
        [
          ["a", 0],
          ["b", 1],
        ],
      ],
    ]);
  });
});
