import {
  type DStream,
  ManualClock,
  Seconds,
  type SpateError,
  type State,
  StateSpec,
  StreamingContext,
  UserFunctionError,
} from "spate";
import { describe, expect, it } from "vitest";
import { rejection } from "./support/rejection.js";

function context(conf: Record<string, string | number | boolean> = {}) {
  const clock = new ManualClock(0);
  return { clock, ssc: new StreamingContext({ batchDuration: Seconds(1), clock, conf }) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as SpateError).code;
  }
  return undefined;
}

describe("bad input at graph build time", () => {
  it("rejects a window or slide that is not a multiple of the parent's slide", () => {
    const { ssc } = context();
    const s = ssc.queueStream<number>([]);
    expect(codeOf(() => s.window(1500))).toBe("SPATE_INVALID_DURATION");
    expect(codeOf(() => s.window(Seconds(2), 1500))).toBe("SPATE_INVALID_DURATION");
    const pairs = s.map((x) => [x, x] as [number, number]);
    expect(codeOf(() => pairs.reduceByKeyAndWindow((a, b) => a + b, 2500))).toBe("SPATE_INVALID_DURATION");
    expect(
      codeOf(() =>
        pairs.reduceByKeyAndWindow(
          (a, b) => a + b,
          (a, b) => a - b,
          Seconds(4),
          700,
        ),
      ),
    ).toBe("SPATE_INVALID_DURATION");
    expect(codeOf(() => s.window(Seconds(4), Seconds(2)).window(Seconds(3)))).toBe("SPATE_INVALID_DURATION");
    expect(codeOf(() => s.countByWindow(Seconds(2), 10))).toBe("SPATE_INVALID_DURATION");
  });

  it("rejects a batch duration that is not a positive whole number of ms", () => {
    for (const bad of [0, -1000, 1.5, Number.NaN, "1000" as unknown as number]) {
      expect(codeOf(() => new StreamingContext({ batchDuration: bad }))).toBe("SPATE_INVALID_DURATION");
    }
  });

  it("rejects unknown spate.* settings and ill-typed values, and keeps the user's own keys", () => {
    expect(codeOf(() => context({ "spate.no.such.key": 1 }))).toBe("SPATE_UNKNOWN_CONF");
    expect(codeOf(() => context({ "spate.ui.port": "eighty" }))).toBe("SPATE_INVALID_CONF");
    expect(codeOf(() => context({ "spate.default.parallelism": 0 }))).toBe("SPATE_INVALID_CONF");
    const { ssc } = context({ "spate.default.parallelism": "3", "my.own.key": "x" });
    expect(ssc.conf.get("spate.default.parallelism")).toBe(3);
    expect(ssc.conf.getRaw("my.own.key")).toBe("x");
  });

  it("refuses to start without an output operation", async () => {
    const { ssc } = context();
    ssc.queueStream([[1]]).map((x) => x + 1);
    const e = await rejection(ssc.start());
    expect(e.code).toBe("SPATE_NO_OUTPUT");
    expect(e.message).toMatch(/foreachRDD/);
    expect(ssc.state()).toBe("initialized");
  });

  it("refuses start() twice, and start() after stop()", async () => {
    const { ssc } = context();
    ssc.queueStream([[1]]).foreachRDD(() => {});
    await ssc.start();
    expect((await rejection(ssc.start())).code).toBe("SPATE_ALREADY_STARTED");
    await ssc.stop();
    expect(ssc.state()).toBe("stopped");
    expect((await rejection(ssc.start())).code).toBe("SPATE_CONTEXT_STOPPED");
  });

  it("refuses a stream or output added after start", async () => {
    const { ssc } = context();
    const s = ssc.queueStream([[1]]);
    s.foreachRDD(() => {});
    await ssc.start();
    expect(codeOf(() => s.map((x) => x))).toBe("SPATE_GRAPH_FROZEN");
    expect(codeOf(() => s.print())).toBe("SPATE_GRAPH_FROZEN");
    expect(codeOf(() => ssc.queueStream([[2]]))).toBe("SPATE_GRAPH_FROZEN");
    await ssc.stop();
  });

  it("refuses two operators pinned to the same uid", async () => {
    const { ssc } = context();
    const s = ssc.queueStream([[1]]);
    s.map((x) => x)
      .uid("same")
      .print();
    s.filter(() => true)
      .uid("same")
      .print();
    expect((await rejection(ssc.start())).code).toBe("SPATE_DUPLICATE_UID");
  });
});

describe("bad input while running", () => {
  async function runToFailure<T>(
    input: T[][],
    build: (s: DStream<T>) => void,
  ): Promise<{ error: SpateError; seen: number[] }> {
    const { ssc, clock } = context();
    const seen: number[] = [];
    const batches = input.length; // queueStream consumes the queue as batches are cut
    build(ssc.queueStream(input));
    ssc.addStreamingListener({ onBatchCompleted: ({ batchInfo }) => void seen.push(batchInfo.batchTime) });
    await ssc.start();
    for (let i = 0; i < batches; i++) clock.advance(1000);
    const idle = await rejection(ssc.awaitIdle());
    const terminated = await rejection(ssc.awaitTermination());
    expect(terminated).toBe(idle);
    expect(ssc.state()).toBe("stopped");
    return { error: idle, seen };
  }

  it("fails the batch with SPATE_INVALID_KEY on an unsupported key type", async () => {
    const { error } = await runToFailure([[1], [2]], (s) =>
      s
        .map((x) => [x === 2 ? new Date(x) : x, 1] as [unknown, number])
        .reduceByKey((a, b) => a + b)
        .foreachRDD(async (rdd) => void (await rdd.collect())),
    );
    expect(error.code).toBe("SPATE_INVALID_KEY");
    expect(error.message).toMatch(/Date/);
  });

  it("names the batch time and the operator when a user function throws, and stops generating batches", async () => {
    let failing: DStream<number> | undefined;
    const outputs: number[] = [];
    const { error, seen } = await runToFailure([[1], [2], [3], [4]], (s) => {
      failing = s.map((x) => {
        if (x === 2) throw new RangeError("two is not allowed");
        return x;
      });
      failing.foreachRDD(async (rdd) => void outputs.push(...(await rdd.collect())));
    });
    expect(error).toBeInstanceOf(UserFunctionError);
    expect(error.code).toBe("SPATE_USER_FUNCTION_FAILED");
    const e = error as UserFunctionError;
    expect(e.batchTime).toBe(2000);
    expect(e.operatorId).toBe(failing!.id);
    expect(e.message).toContain("2000");
    expect(e.message).toContain(failing!.id);
    expect(e.message).toContain("two is not allowed");
    expect((e.cause as Error).name).toBe("RangeError");
    expect(outputs).toEqual([1]);
    expect(seen).toEqual([1000, 2000]);
  });

  it("attributes an error thrown in foreachRDD to the output operation", async () => {
    const { error } = await runToFailure([[1]], (s) =>
      s.uid("source").foreachRDD(() => {
        throw new Error("sink down");
      }),
    );
    expect(error.code).toBe("SPATE_USER_FUNCTION_FAILED");
    expect((error as UserFunctionError).operatorId).toMatch(/^foreachRDD-/);
    expect((error as UserFunctionError).batchTime).toBe(1000);
  });

  it("reports misuse of State inside mapWithState as a failure of that operator", async () => {
    const { error } = await runToFailure([[["k", 1]]] as Array<Array<[string, number]>>, (s) =>
      s
        .mapWithState(StateSpec.function((_k: string, _v: number | undefined, state) => state.get()))
        .uid("sessions")
        .print(),
    );
    expect(error.code).toBe("SPATE_USER_FUNCTION_FAILED");
    expect((error as UserFunctionError).operatorId).toBe("sessions");
    expect(((error as UserFunctionError).cause as SpateError).code).toBe("SPATE_STATE_NOT_SET");
  });
});

describe("batch atomicity", () => {
  // The state after a failed batch is observed through the context's state stores: the invariant is about them.
  type Stores = {
    stores(): Iterable<{ operatorId: string; entries(): Iterable<{ key: unknown; state: unknown }> }>;
  };
  function stateOf(ssc: StreamingContext, operatorId: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const store of (ssc as unknown as { stateStores: Stores }).stateStores.stores()) {
      if (store.operatorId !== operatorId) continue;
      for (const e of store.entries()) out[String(e.key)] = e.state;
    }
    return out;
  }

  for (const where of ["in the state function", "in a later output"] as const) {
    it(`leaves every state store at the previous batch when a batch fails ${where}`, async () => {
      const { ssc, clock } = context({ "spate.default.parallelism": 3 });
      const input: string[][] = [
        ["a", "b", "c"],
        ["a", "d", "boom", "e"],
      ];
      const words = ssc.queueStream(input).map((w) => [w, 1] as [string, number]);
      words
        .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
        .uid("totals")
        .foreachRDD(async (rdd) => void (await rdd.collect()));
      words
        .mapWithState(
          StateSpec.function((k: string, v: number | undefined, state: State<number>) => {
            if (k === "boom" && where === "in the state function") throw new Error("boom");
            state.update((state.getOption() ?? 0) + (v ?? 0));
          }),
        )
        .uid("sessions")
        .foreachRDD(async (rdd) => {
          await rdd.collect();
        });
      words.foreachRDD(async (rdd) => {
        const all = await rdd.collect();
        if (where === "in a later output" && all.some(([w]) => w === "boom")) throw new Error("boom");
      });
      await ssc.start();
      clock.advance(1000);
      await ssc.awaitIdle();
      const after1 = { totals: stateOf(ssc, "totals"), sessions: stateOf(ssc, "sessions") };
      expect(after1.totals).toEqual({ a: 1, b: 1, c: 1 });
      expect(after1.sessions).toEqual({ a: 1, b: 1, c: 1 });
      clock.advance(1000);
      const e = await rejection(ssc.awaitIdle());
      expect(e.code).toBe("SPATE_USER_FUNCTION_FAILED");
      expect((e as UserFunctionError).batchTime).toBe(2000);
      expect(stateOf(ssc, "totals")).toEqual(after1.totals);
      expect(stateOf(ssc, "sessions")).toEqual(after1.sessions);
    });
  }
});
