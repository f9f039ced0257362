// Typed state through checkpoints, in one process on a ManualClock: registered classes keep their prototype
// (state, window data), a codec per operator, state changed in place, what round-trips and what fails the batch.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  type DStream,
  ManualClock,
  type SpateError,
  type State,
  StateNotSerializableError,
  StateSpec,
  StreamingContext,
} from "spate";
import { describe, expect, it } from "vitest";
import { rejection } from "../support/rejection.js";

const BATCH = 1000;

class Tally {
  count = 0;
  words: string[] = [];
  add(word: string): this {
    this.count++;
    this.words.push(word);
    return this;
  }
  summary(): string {
    return `${this.count}:${this.words.join("+")}`;
  }
}

class Stamp {
  constructor(readonly n: number) {}
  plus(o: Stamp): Stamp {
    return new Stamp(this.n + o.n);
  }
  minus(o: Stamp): Stamp {
    return new Stamp(this.n - o.n);
  }
}

/** A class whose content is in a private field: only a codec can store it. */
class Counter {
  #n = 0;
  bump(by: number): this {
    this.#n += by;
    return this;
  }
  get value(): number {
    return this.#n;
  }
  static of(n: number): Counter {
    return new Counter().bump(n);
  }
}

function dirs() {
  const base = mkdtempSync(path.join(tmpdir(), "spate-typed-"));
  const input = path.join(base, "input");
  mkdirSync(input);
  return { checkpoint: path.join(base, "checkpoint"), input };
}

const BATCHES = [["a b", "c"], ["a a"], [], ["b c d"], ["a"], ["d d e"], ["e a"], ["b"]];

/** Runs batches `from..to-1` of `batches`: each batch's file is written just before its batch time. */
async function run(ssc: StreamingContext, input: string, from: number, to: number, batches = BATCHES) {
  if (ssc.state() === "initialized") await ssc.start();
  const clock = ssc.clock as ManualClock;
  for (let i = from; i < to; i++) {
    writeFileSync(path.join(input, `f${String(i).padStart(3, "0")}`), batches[i]!.join("\n"));
    clock.setTime((i + 1) * BATCH);
    await ssc.awaitIdle();
  }
}

type Outputs = Map<string, Map<number, string[]>>;

function record(out: Outputs, name: string, t: number, lines: string[]): void {
  if (!out.has(name)) out.set(name, new Map());
  out.get(name)!.set(t, lines.sort());
}

function context(conf: Record<string, number | boolean> = {}) {
  return new StreamingContext({
    batchDuration: BATCH,
    clock: new ManualClock(0),
    conf: { "spate.checkpoint.interval": 2 * BATCH, "spate.checkpoint.fullSnapshotEvery": 3, ...conf },
  });
}

function typedJob(input: string, out: Outputs, register = true) {
  return () => {
    const ssc = context();
    if (register) ssc.registerClasses(Tally, Stamp);
    const words = ssc
      .textFileStream(input)
      .flatMap((l) => l.split(" ").filter((w) => w !== ""))
      .map((w) => [w, 1] as [string, number]);
    words
      .updateStateByKey((vs: number[], s: Tally | undefined, k: string) => {
        const t = s ?? new Tally();
        for (const _ of vs) t.add(k);
        return t;
      })
      .uid("tallies")
      .foreachRDD(async (rdd, t) =>
        record(
          out,
          "tallies",
          t,
          (await rdd.collect()).map(([k, s]) => `${k}=${s.summary()}`),
        ),
      );
    words
      .mapWithState(
        StateSpec.function((k: string, _v: number | undefined, state: State<{ tally: Tally }>) => {
          const s = state.exists() ? state.get() : { tally: new Tally() };
          s.tally.add(k);
          state.update(s);
        }),
      )
      .uid("sessions")
      .stateSnapshots()
      .foreachRDD(async (rdd, t) =>
        record(
          out,
          "sessions",
          t,
          (await rdd.collect()).map(([k, s]) => `${k}=${s.tally.summary()}:${s.tally instanceof Tally}`),
        ),
      );
    words
      .map(([w]) => [w, new Stamp(1)] as [string, Stamp])
      .reduceByKeyAndWindow(
        (a, b) => a.plus(b),
        (a, b) => a.minus(b),
        3 * BATCH,
      )
      .uid("window")
      .foreachRDD(async (rdd, t) =>
        record(
          out,
          "window",
          t,
          (await rdd.collect()).map(([k, v]) => `${k}=${v.plus(new Stamp(0)).n}:${v instanceof Stamp}`),
        ),
      );
    return ssc;
  };
}

async function reference(job: (input: string, out: Outputs) => () => StreamingContext): Promise<Outputs> {
  const d = dirs();
  const out: Outputs = new Map();
  const ssc = await StreamingContext.getOrCreate(d.checkpoint, job(d.input, out));
  await run(ssc, d.input, 0, BATCHES.length);
  await ssc.stop();
  return out;
}

/** Runs `job` to batch `stopAt`, stops, restores from its checkpoint and runs the rest. */
async function restarted(
  job: (input: string, out: Outputs) => () => StreamingContext,
  stopAt: number,
): Promise<Outputs> {
  const d = dirs();
  const first: Outputs = new Map();
  const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, job(d.input, first));
  await run(ssc1, d.input, 0, stopAt);
  await ssc1.stop();
  const second: Outputs = new Map();
  const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, job(d.input, second));
  expect(ssc2.restoredFrom?.batchTime).toBe(stopAt * BATCH);
  await run(ssc2, d.input, stopAt, BATCHES.length);
  await ssc2.stop();
  return second;
}

function expectSameFrom(actual: Outputs, expected: Outputs, from: number): void {
  for (const [name, byTime] of expected) {
    for (const [t, lines] of byTime) {
      if (t <= from * BATCH) continue;
      expect(actual.get(name)?.get(t), `${name} at ${t}`).toEqual(lines);
    }
  }
}

describe("registered classes", () => {
  it("keep their prototype in state, nested state and window data across a restart with replay", async () => {
    const expected = await reference((input, out) => typedJob(input, out));
    expect(expected.get("tallies")?.get(8 * BATCH)).toContain("a=5:a+a+a+a+a");
    expect(expected.get("window")?.get(8 * BATCH)).toContain("e=2:true");
    // Stopping after batch 5 restores the data checkpoint of batch 4 and replays batch 5 into it.
    for (const stopAt of [3, 5])
      expectSameFrom(await restarted((i, o) => typedJob(i, o), stopAt), expected, stopAt);
  });

  it("are keys that compare by class and fields, and come back as such", async () => {
    class WordKey {
      constructor(readonly word: string) {}
      label(): string {
        return `<${this.word}>`;
      }
    }
    const job = (input: string, out: Outputs) => () => {
      const ssc = context();
      ssc.registerClasses(WordKey);
      ssc
        .textFileStream(input)
        .flatMap((l) => l.split(" ").filter((w) => w !== ""))
        .map((w) => [new WordKey(w), 1] as [WordKey, number])
        .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
        .uid("by-key")
        .foreachRDD(async (rdd, t) =>
          record(
            out,
            "by-key",
            t,
            (await rdd.collect()).map(([k, n]) => `${k.label()}=${n}`),
          ),
        );
      return ssc;
    };
    const expected = await reference(job);
    expect(expected.get("by-key")?.get(8 * BATCH)).toEqual(["<a>=5", "<b>=3", "<c>=2", "<d>=3", "<e>=2"]);
    expectSameFrom(await restarted(job, 5), expected, 5);
  });

  it("fail the restart with SPATE_GRAPH_MISMATCH naming a class the job no longer registers", async () => {
    const d = dirs();
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, typedJob(d.input, new Map()));
    await run(ssc1, d.input, 0, 2);
    await ssc1.stop();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, typedJob(d.input, new Map(), false));
    const e = await rejection(ssc2.start());
    expect(e.code).toBe("SPATE_GRAPH_MISMATCH");
    expect(e.message).toContain("registerClasses(Tally)");
  });

  it("refuses two classes of one name, built-in subclasses, non-classes and registration after start", async () => {
    const ssc = context();
    const Other = (() => class Tally {})();
    expect(() => ssc.registerClasses(Tally, Other)).toThrow(/two different classes are named "Tally"/);
    ssc.registerClasses(Tally, Tally); // the same class twice is one registration
    class Items extends Array<number> {}
    expect(() => ssc.registerClasses(Items)).toThrow(/extends a built-in \(Array\)/);
    expect((rejectionOf(() => ssc.registerClasses(42 as never)) as SpateError).code).toBe(
      "SPATE_INVALID_ARGUMENT",
    );
    ssc.queueStream([[1]]).foreachRDD(() => {});
    await ssc.start();
    expect((rejectionOf(() => ssc.registerClasses(Stamp)) as SpateError).code).toBe("SPATE_GRAPH_FROZEN");
    await ssc.stop();
  });
});

function rejectionOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

describe("a codec per operator", () => {
  function codecJob(input: string, out: Outputs, calls: { encode: number; decode: number }) {
    return () => {
      const ssc = context();
      const words = ssc
        .textFileStream(input)
        .flatMap((l) => l.split(" ").filter((w) => w !== ""))
        .map((w) => [w, 1] as [string, number]);
      const codec = {
        encode: (c: Counter) => {
          calls.encode++;
          return { n: c.value };
        },
        decode: (x: unknown) => {
          calls.decode++;
          return Counter.of((x as { n: number }).n);
        },
      };
      words
        .updateStateByKey((vs: number[], s: Counter | undefined) => (s ?? new Counter()).bump(vs.length), {
          codec,
        })
        .uid("totals")
        .foreachRDD(async (rdd, t) =>
          record(
            out,
            "totals",
            t,
            (await rdd.collect()).map(([k, c]) => `${k}=${c.value}`),
          ),
        );
      words
        .mapWithState(
          StateSpec.function((_k: string, v: number | undefined, state: State<Counter>) => {
            state.update((state.getOption() ?? new Counter()).bump(v ?? 0));
          }).codec(codec),
        )
        .uid("sessions")
        .stateSnapshots()
        .foreachRDD(async (rdd, t) =>
          record(
            out,
            "sessions",
            t,
            (await rdd.collect()).map(([k, c]) => `${k}=${c.value}`),
          ),
        );
      return ssc;
    };
  }

  it("writes encode(state) and restores decode(stored), for mapWithState and updateStateByKey", async () => {
    const calls = { encode: 0, decode: 0 };
    const expected = await reference((i, o) => codecJob(i, o, calls));
    expect(expected.get("totals")?.get(8 * BATCH)).toContain("a=5");
    expect(calls.encode).toBeGreaterThan(0);
    const restartCalls = { encode: 0, decode: 0 };
    const actual = await restarted((i, o) => codecJob(i, o, restartCalls), 5);
    expect(restartCalls.decode).toBeGreaterThan(0);
    expectSameFrom(actual, expected, 5);
  });

  it("is checked: a malformed codec is refused where it is given", () => {
    expect(() => StateSpec.function(() => undefined).codec({ encode: () => 1 } as never)).toThrow(
      /encode\(state\), decode\(stored\)/,
    );
    const ssc = context();
    const pairs = ssc.queueStream<[string, number]>([]);
    expect(() => pairs.updateStateByKey((_v, s) => s, { codec: {} as never })).toThrow(/codec option/);
  });
});

describe("state changed in place", () => {
  function mutatingJob(input: string, out: Outputs) {
    return () => {
      const ssc = context({ "spate.checkpoint.interval": BATCH, "spate.checkpoint.fullSnapshotEvery": 100 });
      const words = ssc
        .textFileStream(input)
        .flatMap((l) => l.split(" ").filter((w) => w !== ""))
        .map((w) => [w, 1] as [string, number]);
      words
        .mapWithState(
          StateSpec.function((k: string, _v: number | undefined, state: State<string[]>) => {
            // update() only when the key is new: later batches push into the state without update().
            if (state.exists()) state.get().push(k);
            else state.update([k]);
          }),
        )
        .uid("lists")
        .stateSnapshots()
        .foreachRDD(async (rdd, t) =>
          record(
            out,
            "lists",
            t,
            (await rdd.collect()).map(([k, l]) => `${k}=${l.length}`),
          ),
        );
      words
        .updateStateByKey((vs: number[], s: { n: number } | undefined) => {
          const state = s ?? { n: 0 };
          state.n += vs.length; // the same object, changed in place, is returned
          return state;
        })
        .uid("counts")
        .foreachRDD(async (rdd, t) =>
          record(
            out,
            "counts",
            t,
            (await rdd.collect()).map(([k, s]) => `${k}=${s.n}`),
          ),
        );
      return ssc;
    };
  }

  it("is checkpointed as updated state: after recovery the state equals a run without failure", async () => {
    const expected = await reference(mutatingJob);
    expect(expected.get("lists")?.get(8 * BATCH)).toContain("a=5");
    for (const stopAt of [4, 6]) expectSameFrom(await restarted(mutatingJob, stopAt), expected, stopAt);
  });
});

describe("state a checkpoint could not restore", () => {
  class Unregistered {
    x = 1;
  }
  const circular = () => {
    const o: { items: unknown[] } = { items: [] };
    o.items.push(1, o);
    return o;
  };
  const withProto = () => JSON.parse('{"items": [{"__proto__": {"a": 1}}]}') as unknown;
  const kinds: Array<{ name: string; value: () => unknown; path: string; type: RegExp }> = [
    {
      name: "an unregistered class",
      value: () => ({ items: [new Unregistered()] }),
      path: "state.items[0]",
      type: /class Unregistered, which is not registered/,
    },
    {
      name: "a Symbol",
      value: () => ({ items: [1, 2, 3, Symbol("s")] }),
      path: "state.items[3]",
      type: /Symbol/,
    },
    { name: "a function", value: () => ({ items: [() => 1] }), path: "state.items[0]", type: /function/ },
    { name: "a circular object", value: circular, path: "state.items[1]", type: /circular/ },
    {
      name: "a thenable",
      value: () => ({ items: [Promise.resolve(1)] }),
      path: "state.items[0]",
      type: /Promise/,
    },
    { name: "an own __proto__ key", value: withProto, path: "state.items[0].__proto__", type: /__proto__/ },
    { name: "an Error", value: () => ({ items: [new Error("x")] }), path: "state.items[0]", type: /Error/ },
    {
      name: "a WeakMap in a Map",
      value: () => new Map([["m", new WeakMap()]]),
      path: 'state.get("m")',
      type: /WeakMap/,
    },
  ];

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

  for (const op of ["updateStateByKey", "mapWithState", "reduceByKeyAndWindow"] as const) {
    for (const kind of kinds) {
      it(`${op}: ${kind.name} fails the batch that stored it, before its outputs, state unchanged`, async () => {
        const d = dirs();
        const ran: number[] = [];
        const build = () => {
          const ssc = context({ "spate.checkpoint.interval": BATCH });
          const pairs = ssc
            .textFileStream(d.input)
            .map((l) => l.split(" ") as [string, string])
            .map(([k, v]) => [k, v] as [string, string]);
          const bad = (v: string) => (v === "bad" ? kind.value() : { items: [v] });
          let stateful: DStream<any>;
          if (op === "updateStateByKey") {
            stateful = pairs.updateStateByKey((vs: string[], s: unknown) =>
              vs.length > 0 ? bad(vs[0]!) : s,
            );
          } else if (op === "mapWithState") {
            stateful = pairs.mapWithState(
              StateSpec.function((_k: string, v: string | undefined, state: State<unknown>) => {
                if (v !== undefined) state.update(bad(v));
              }),
            );
          } else {
            stateful = pairs
              .map(([k, v]) => [k, bad(v)] as [string, unknown])
              .reduceByKeyAndWindow(
                (_a, b) => b,
                (a) => a,
                2 * BATCH,
              );
          }
          stateful.uid("op").foreachRDD((_rdd, t) => void ran.push(t));
          return ssc;
        };
        const ssc = await StreamingContext.getOrCreate(d.checkpoint, build);
        await run(ssc, d.input, 0, 1, [["k good"]]);
        const before = stateOf(ssc, "op");
        writeFileSync(path.join(d.input, "f001"), "k bad");
        (ssc.clock as ManualClock).setTime(2 * BATCH);
        const e = await rejection(ssc.awaitIdle());
        expect(e).toBeInstanceOf(StateNotSerializableError);
        const err = e as StateNotSerializableError;
        expect(err.code).toBe("SPATE_STATE_NOT_SERIALIZABLE");
        expect(err.operatorId).toBe("op");
        expect(err.key).toBe("k");
        expect(err.batchTime).toBe(2 * BATCH);
        expect(err.path).toBe(kind.path);
        expect(err.valueType).toMatch(kind.type);
        expect(err.message).toContain(`"op"`);
        expect(err.message).toContain(kind.path);
        expect(ran).toEqual([BATCH]); // the output of the failed batch did not run
        if (op !== "reduceByKeyAndWindow") expect(stateOf(ssc, "op")).toEqual(before);
        // The checkpoint holds the previous batch: a restart restores it and fails on the same batch again.
        const ran2: number[] = ran.splice(0);
        const again = await StreamingContext.getOrCreate(d.checkpoint, build);
        expect(again.restoredFrom?.batchTime).toBe(BATCH);
        await again.start();
        if (op !== "reduceByKeyAndWindow") expect(stateOf(again, "op")).toEqual(before);
        const e2 = await rejection(again.awaitIdle());
        expect(e2.code).toBe("SPATE_STATE_NOT_SERIALIZABLE");
        expect(ran).toEqual([]);
        await again.stop();
        expect(ran2).toEqual([BATCH]);
      });
    }
  }

  it("is not checked without checkpointing: any value may be state in memory", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock,
      conf: { "spate.state.backend": "memory" },
    });
    const seen: unknown[] = [];
    ssc
      .queueStream([[["k", 1]]] as Array<Array<[string, number]>>)
      .updateStateByKey((_vs: number[], s: unknown) => s ?? { f: () => 1, sym: Symbol("x") })
      .foreachRDD(async (rdd) => void seen.push(...(await rdd.collect())));
    await ssc.start();
    clock.advance(BATCH);
    await ssc.awaitIdle();
    await ssc.stop();
    expect(seen).toHaveLength(1);
  });

  it("is checked at every write with state outside the heap (lmdb), checkpointing or not", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({
      batchDuration: BATCH,
      clock,
      conf: { "spate.state.backend": "lmdb" },
    });
    const seen: unknown[] = [];
    ssc
      .queueStream([[["k", 1]], [["k", 2]]] as Array<Array<[string, number]>>)
      .updateStateByKey((vs: number[], s: unknown) => (vs[0] === 2 ? { f: () => 1 } : (s ?? vs[0])))
      .uid("op")
      .foreachRDD(async (rdd) => void seen.push(...(await rdd.collect())));
    await ssc.start();
    clock.advance(BATCH);
    await ssc.awaitIdle();
    clock.advance(BATCH);
    const e = await rejection(ssc.awaitIdle());
    expect(e).toBeInstanceOf(StateNotSerializableError);
    const err = e as StateNotSerializableError;
    expect(err.operatorId).toBe("op");
    expect(err.key).toBe("k");
    expect(err.path).toBe("state.f");
    expect(err.batchTime).toBe(2 * BATCH);
    expect(seen).toEqual([["k", 1]]); // the failed batch's output did not run
    await ssc.stop();
  });
});

describe("values that round-trip through a checkpoint", () => {
  // biome-ignore lint/suspicious/noSparseArray: holes are what is tested
  const sparse = [1, , 3];
  const nullProto = Object.assign(Object.create(null) as object, { a: 1, nested: { b: 2 } });
  const values: Record<string, unknown> = {
    negativeZero: -0,
    sparse,
    nullProto,
    map: new Map<unknown, unknown>([
      ["a", 1],
      [2, { b: [1, 2] }],
    ]),
    set: new Set([1, "two", 3]),
    date: new Date(1_234_567_890_123),
    bytes: new Uint8Array([1, 2, 255]),
    floats: new Float64Array([1.5, -2.25]),
    bigints: new BigInt64Array([1n, -2n]),
    undefinedInArray: [undefined, 1],
    undefinedInObject: { a: undefined, b: 1 },
    bigint: 12345678901234567890n,
    smallBigint: 5n,
    regexp: /a+b/gi,
    arrayBuffer: new Uint8Array([7, 8]).buffer,
    buffer: Buffer.from("spate"),
    nan: Number.NaN,
    infinity: Number.NEGATIVE_INFINITY,
  };

  it("restores each value exactly, except -0 (stored as 0) and sparse-array holes (undefined), as the README says", async () => {
    const d = dirs();
    const restored = new Map<string, unknown>();
    const build = () => {
      const ssc = context({ "spate.checkpoint.interval": BATCH });
      ssc
        .textFileStream(d.input)
        .map((name) => [name, 1] as [string, number])
        .updateStateByKey((_vs: number[], s: unknown, name: string) => s ?? values[name])
        .uid("values")
        .foreachRDD(async (rdd) => {
          for (const [k, v] of await rdd.collect()) restored.set(k, v);
        });
      return ssc;
    };
    const ssc1 = await StreamingContext.getOrCreate(d.checkpoint, build);
    await run(ssc1, d.input, 0, 1, [Object.keys(values)]);
    await ssc1.stop();
    restored.clear();
    const ssc2 = await StreamingContext.getOrCreate(d.checkpoint, build);
    await run(ssc2, d.input, 1, 2, [[], []]);
    await ssc2.stop();
    for (const [name, value] of Object.entries(values)) {
      const back = restored.get(name);
      if (name === "negativeZero") {
        expect(Object.is(back, 0)).toBe(true);
      } else if (name === "sparse") {
        expect(back).toEqual([1, undefined, 3]);
        expect(1 in (back as unknown[])).toBe(true);
      } else {
        expect(back, name).toStrictEqual(value);
        if (typeof value === "object" && value !== null)
          expect(Object.getPrototypeOf(back), name).toBe(Object.getPrototypeOf(value));
      }
    }
    expect(Object.getPrototypeOf((restored.get("nullProto") as { nested: object }).nested)).toBe(
      Object.prototype,
    );
    expect("a" in (restored.get("undefinedInObject") as object)).toBe(true);
  });
});
