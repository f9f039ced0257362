// The shuffle seam under RDDs: explicit dependencies, planStages (every shuffle once, parents first), the in-process
// shuffle service (exactly the results of the RDD operations as they were before the seam: a model of those
// algorithms computes them here), and a service given in the environment, through which alone shuffled RDDs read.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock, type State, StateSpec, StreamingContext } from "spate";
import {
  type Dependency,
  type ParentRDD,
  planStages,
  ShuffleDependency,
} from "../../src/rdd/dependencies.js";
import { compareValues } from "../../src/rdd/keys.js";
import { HashPartitioner } from "../../src/rdd/Partitioner.js";
import { type Emit, RDD, type RDDEnv } from "../../src/rdd/RDD.js";
import type { ShuffleService } from "../../src/rdd/ShuffleService.js";

type Pair = [string | number, number];
type Parts = Pair[][];

/** An RDD as the model sees it: its partitions and the partition count of its hash partitioner, if any. */
interface Model {
  parts: Parts;
  hashed: number | undefined;
}

type Op =
  | { op: "mapValues" | "map" | "filter" | "sortBy"; a: number }
  | { op: "reduceByKey" | "partitionBy" | "repartition" | "groupByKey" | "distinct"; a: number; n: number }
  | { op: "union"; a: number; b: number }
  | { op: "join" | "leftOuterJoin" | "rightOuterJoin" | "fullOuterJoin"; a: number; b: number; n: number };

const key = fc.oneof(fc.constantFrom("a", "b", "c", "d", "e", "f"), fc.integer({ min: 0, max: 7 }));
const parts = fc.array(fc.array(fc.tuple(key, fc.integer({ min: -5, max: 20 })), { maxLength: 6 }), {
  minLength: 1,
  maxLength: 3,
});
const n = fc.integer({ min: 1, max: 3 });
const ref = fc.nat(20);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom("mapValues", "map", "filter", "sortBy"), a: ref }) as fc.Arbitrary<Op>,
  fc.record({
    op: fc.constantFrom("reduceByKey", "partitionBy", "repartition", "groupByKey", "distinct"),
    a: ref,
    n,
  }) as fc.Arbitrary<Op>,
  fc.record({ op: fc.constant("union"), a: ref, b: ref }) as fc.Arbitrary<Op>,
  fc.record({
    op: fc.constantFrom("join", "leftOuterJoin", "rightOuterJoin", "fullOuterJoin"),
    a: ref,
    b: ref,
    n,
  }) as fc.Arbitrary<Op>,
);
const pipeline = fc.record({
  sources: fc.array(parts, { minLength: 1, maxLength: 3 }),
  ops: fc.array(op, { minLength: 1, maxLength: 8 }),
});

const num = (v: number | undefined) => v ?? 100;
const byKey = (kv: Pair) => kv[1];

/** Builds the pipeline's RDDs (every intermediate one) in `env`. */
function build(p: { sources: Parts[]; ops: Op[] }, env: RDDEnv): RDD<Pair>[] {
  const pool = p.sources.map((s) => RDD.fromPartitions<Pair>(s, env));
  for (const o of p.ops) {
    const a = pool[o.a % pool.length]!;
    let r: RDD<Pair>;
    switch (o.op) {
      case "mapValues":
        r = a.mapValues((v) => v * 2);
        break;
      case "map":
        r = a.map(([k, v]) => [k, v + 1] as Pair);
        break;
      case "filter":
        r = a.filter(([, v]) => v % 3 !== 0);
        break;
      case "sortBy":
        r = a.sortBy(byKey, false);
        break;
      case "reduceByKey":
        r = a.reduceByKey((x, y) => x + y, o.n);
        break;
      case "groupByKey":
        r = a.groupByKey(o.n).mapValues((vs) => vs.reduce((x, y) => x * 3 + y, 0));
        break;
      case "distinct":
        r = a.distinct(o.n);
        break;
      case "partitionBy":
        r = a.partitionBy(new HashPartitioner(o.n));
        break;
      case "repartition":
        r = a.repartition(o.n);
        break;
      case "union":
        r = a.union(pool[o.b % pool.length]!);
        break;
      default: {
        const b = pool[o.b % pool.length]!;
        r = a[o.op](b, o.n).mapValues(([v, w]) => num(v) * 1000 + num(w));
      }
    }
    pool.push(r);
  }
  return pool;
}

// ---- the model: the RDD operations' algorithms as they were written before the shuffle seam ------------------

const hash = (m: number) => new HashPartitioner(m);
const mapParts = (m: Model, f: (records: Pair[]) => Pair[], keep: boolean): Model => ({
  parts: m.parts.map(f),
  hashed: keep ? m.hashed : undefined,
});
const all = (m: Model) => m.parts.flat();

function combine(m: Model, parts: number, create: (v: number) => any, merge: (c: any, v: number) => any) {
  const p = hash(parts);
  const maps = Array.from({ length: parts }, () => new Map<unknown, [Pair[0], any]>());
  for (const kv of all(m)) {
    const bucket = maps[p.getPartition(kv[0])]!;
    const e = bucket.get(kv[0]);
    if (e) e[1] = merge(e[1], kv[1]);
    else bucket.set(kv[0], [kv[0], create(kv[1])]);
  }
  return maps.map((b) => Array.from(b.values()));
}

function modelOf(p: { sources: Parts[]; ops: Op[] }): Model[] {
  const pool: Model[] = p.sources.map((s) => ({ parts: s, hashed: undefined }));
  for (const o of p.ops) {
    const a = pool[o.a % pool.length]!;
    let r: Model;
    switch (o.op) {
      case "mapValues":
        r = mapParts(a, (rs) => rs.map(([k, v]) => [k, v * 2]), true);
        break;
      case "map":
        r = mapParts(a, (rs) => rs.map(([k, v]) => [k, v + 1]), false);
        break;
      case "filter":
        r = mapParts(a, (rs) => rs.filter(([, v]) => v % 3 !== 0), true);
        break;
      case "sortBy": {
        const sorted = all(a)
          .map((x) => [byKey(x), x] as const)
          .sort((x, y) => -compareValues(x[0], y[0]))
          .map((e) => e[1]);
        const k = a.parts.length;
        r = {
          parts: Array.from({ length: k }, (_, i) =>
            sorted.slice(Math.floor((i * sorted.length) / k), Math.floor(((i + 1) * sorted.length) / k)),
          ),
          hashed: undefined,
        };
        break;
      }
      case "reduceByKey":
        r = {
          parts: combine(
            a,
            o.n,
            (v) => v,
            (c, v) => c + v,
          ),
          hashed: o.n,
        };
        break;
      case "groupByKey": {
        const grouped = combine(
          a,
          o.n,
          (v) => [v],
          (c, v) => [...c, v],
        ) as Array<Array<[Pair[0], number[]]>>;
        r = {
          parts: grouped.map((rs) => rs.map(([k, vs]) => [k, vs.reduce((x, y) => x * 3 + y, 0)])),
          hashed: o.n,
        };
        break;
      }
      case "distinct": {
        // map → reduceByKey over [pair, null] → map
        const hp = hash(o.n);
        const maps = Array.from({ length: o.n }, () => new Map<string, Pair>());
        for (const kv of all(a)) {
          const bucket = maps[hp.getPartition(kv)]!;
          const code = JSON.stringify(kv);
          if (!bucket.has(code)) bucket.set(code, kv);
        }
        r = { parts: maps.map((b) => Array.from(b.values())), hashed: undefined };
        break;
      }
      case "partitionBy": {
        if (a.hashed !== undefined && (a.hashed === o.n || (a.hashed === 1 && o.n === 1))) {
          r = a;
          break;
        }
        const hp = hash(o.n);
        const buckets: Parts = Array.from({ length: o.n }, () => []);
        for (const kv of all(a)) buckets[hp.getPartition(kv[0])]!.push(kv);
        r = { parts: buckets, hashed: o.n };
        break;
      }
      case "repartition": {
        const buckets: Parts = Array.from({ length: o.n }, () => []);
        a.parts.forEach((rs, q) => {
          let t = q % o.n;
          for (const x of rs) {
            buckets[t]!.push(x);
            t = (t + 1) % o.n;
          }
        });
        r = { parts: buckets, hashed: undefined };
        break;
      }
      case "union": {
        const b = pool[o.b % pool.length]!;
        r =
          a.hashed !== undefined && a.hashed === b.hashed
            ? { parts: a.parts.map((rs, i) => [...rs, ...b.parts[i]!]), hashed: a.hashed }
            : { parts: [...a.parts, ...b.parts], hashed: undefined };
        break;
      }
      default: {
        const b = pool[o.b % pool.length]!;
        const hp = hash(o.n);
        const maps = Array.from({ length: o.n }, () => new Map<Pair[0], [number[], number[]]>());
        [a, b].forEach((side, i) => {
          for (const [k, v] of all(side)) {
            const bucket = maps[hp.getPartition(k)]!;
            let e = bucket.get(k);
            if (!e) bucket.set(k, (e = [[], []]));
            e[i]!.push(v);
          }
        });
        const out = (k: Pair[0], v: number | undefined, w: number | undefined): Pair => [
          k,
          num(v) * 1000 + num(w),
        ];
        r = {
          parts: maps.map((bucket) => {
            const rs: Pair[] = [];
            for (const [k, [vs, ws]] of bucket) {
              const left = o.op === "leftOuterJoin" || o.op === "fullOuterJoin";
              const right = o.op === "rightOuterJoin" || o.op === "fullOuterJoin";
              if (o.op === "rightOuterJoin") {
                for (const w of ws) {
                  if (vs.length === 0) rs.push(out(k, undefined, w));
                  else for (const v of vs) rs.push(out(k, v, w));
                }
              } else if (vs.length === 0) {
                if (right) for (const w of ws) rs.push(out(k, undefined, w));
              } else if (ws.length === 0) {
                if (left) for (const v of vs) rs.push(out(k, v, undefined));
              } else for (const v of vs) for (const w of ws) rs.push(out(k, v, w));
            }
            return rs;
          }),
          hashed: undefined,
        };
      }
    }
    pool.push(r);
  }
  return pool;
}

// ---- services ------------------------------------------------------------------------------------------------

/**
 * A service as one across workers works: the map side of each parent partition on its own, then the buckets of
 * every map output merged on the reduce side. Counts what it is asked for.
 */
class PerPartitionShuffle implements ShuffleService {
  readonly fetched = new Set<ShuffleDependency<any, any>>();
  private readonly outputs = new Map<ShuffleDependency<any, any>, unknown[][][]>();

  fetch<R>(dep: ShuffleDependency<any, R>, p: number, emit: Emit<R>): void {
    this.fetched.add(dep);
    let outs = this.outputs.get(dep) as R[][][] | undefined;
    if (!outs) {
      outs = [];
      for (let q = 0; q < dep.rdd.numPartitions; q++) outs.push(dep.map([q]));
      this.outputs.set(dep, outs);
    }
    dep.merge(
      outs.map((o) => o[p]!),
      emit,
    );
  }
}

/** A service whose buckets are all empty. */
const EMPTY_SHUFFLE: ShuffleService = { fetch() {} };

/** Every shuffle dependency reachable from `rdd`, by a plain recursive walk. */
function reachable(
  rdd: ParentRDD<any>,
  out = new Set<ShuffleDependency<any, any>>(),
): Set<ShuffleDependency<any, any>> {
  for (const d of rdd.dependencies as Dependency[]) {
    if (d instanceof ShuffleDependency) out.add(d);
    reachable(d.rdd, out);
  }
  return out;
}

describe("the shuffle seam", () => {
  it("planStages lists every reachable shuffle once, each after the shuffles its parent reads", () => {
    fc.assert(
      fc.property(pipeline, fc.nat(), (p, pick) => {
        const pool = build(p, { defaultParallelism: undefined });
        const roots = pool.filter((_r, i) => (pick >> i) % 2 === 0 || i === pool.length - 1);
        const stages = planStages(roots);
        expect(new Set(stages).size).toBe(stages.length);
        const expected = new Set<ShuffleDependency<any, any>>();
        for (const r of roots) reachable(r, expected);
        expect(new Set(stages)).toEqual(expected);
        stages.forEach((dep, i) => {
          for (const before of reachable(dep.rdd)) expect(stages.indexOf(before)).toBeLessThan(i);
        });
        // Deterministic: the same RDDs give the same order.
        expect(planStages(roots)).toEqual(stages);
      }),
      { numRuns: 300 },
    );
  });

  it("the in-process service gives exactly the results of the operations' own algorithms", () => {
    fc.assert(
      fc.property(pipeline, (p) => {
        const pool = build(p, { defaultParallelism: undefined });
        const model = modelOf(p);
        pool.forEach((rdd, i) => {
          expect(rdd.materialize()).toEqual(model[i]!.parts);
        });
      }),
      { numRuns: 300 },
    );
  });

  it("a service in the environment is the only way shuffled RDDs read: map side per partition, reduce side merging", () => {
    fc.assert(
      fc.property(pipeline, (p) => {
        const service = new PerPartitionShuffle();
        const pool = build(p, { defaultParallelism: undefined, shuffle: service });
        const model = modelOf(p);
        const stages = new Set(planStages(pool));
        pool.forEach((rdd, i) => {
          expect(rdd.materialize()).toEqual(model[i]!.parts);
        });
        expect(service.fetched).toEqual(stages);
      }),
      { numRuns: 200 },
    );
  });

  it("with a service that moves nothing, every shuffled operation reads nothing", async () => {
    const env: RDDEnv = { defaultParallelism: undefined, shuffle: EMPTY_SHUFFLE };
    const pairs = RDD.fromPartitions<Pair>(
      [
        [
          ["a", 1],
          ["b", 2],
        ],
        [
          ["a", 3],
          [4, 4],
        ],
      ],
      env,
    );
    const shuffled: RDD<unknown>[] = [
      pairs.reduceByKey((x, y) => x + y),
      pairs.reduceByKey((x, y) => x + y, 1),
      pairs.groupByKey(3),
      pairs.combineByKey(
        (v) => [v],
        (c, v) => [...c, v],
        (x, y) => [...x, ...y],
      ),
      pairs.partitionBy(new HashPartitioner(1)),
      pairs.partitionBy(new HashPartitioner(2)),
      pairs.cogroup(pairs),
      pairs.join(pairs),
      pairs.leftOuterJoin(pairs),
      pairs.rightOuterJoin(pairs),
      pairs.fullOuterJoin(pairs),
      pairs.repartition(1),
      pairs.repartition(3),
      pairs.sortBy((kv) => kv[1]),
      pairs.distinct(),
    ];
    for (const r of shuffled) {
      expect(planStages([r]).length).toBeGreaterThan(0);
      expect(await r.count()).toBe(0);
    }
    // Narrow operations do not go through it.
    expect(await pairs.mapValues((v) => v + 1).count()).toBe(4);
    expect(planStages([pairs.union(pairs).filter(() => true)])).toEqual([]);
  });

  it("dependencies: narrow for narrow operations and unions, none once every partition is in memory", () => {
    const a = RDD.fromPartitions([[1], [2]]);
    const b = RDD.fromPartitions([[3]]);
    const mapped = a.map((x) => x + 1);
    expect(mapped.dependencies.map((d) => [d.constructor.name, d.rdd === a])).toEqual([
      ["OneToOneDependency", true],
    ]);
    const u = mapped.union(b);
    expect(u.dependencies.map((d) => (d as { parents(p: number): number[] }).parents(2))).toEqual([[], [0]]);
    expect(u.dependencies.map((d) => (d as { parents(p: number): number[] }).parents(1))).toEqual([[1], []]);
    const persisted = u
      .map((x) => [x, x] as [number, number])
      .reduceByKey((x, y) => x + y)
      .persist();
    expect(persisted.dependencies[0]).toBeInstanceOf(ShuffleDependency);
    persisted.materialize();
    expect(persisted.dependencies).toEqual([]);
    expect(planStages([persisted])).toEqual([]);
  });

  it("a stateful stream's RDD depends on its input's shuffle, so that a plan of the batch finds it", async () => {
    const clock = new ManualClock(0);
    const ssc = new StreamingContext({ batchDuration: 1000, clock });
    const counts = ssc
      .queueStream([["a", "b", "a"]])
      .map((w) => [w, 1] as [string, number])
      .reduceByKey((x, y) => x + y, 2);
    const totals = counts.mapWithState(
      StateSpec.function((_k: string, v: number | undefined, s: State<number>) => {
        s.update((s.getOption() ?? 0) + (v ?? 0));
        return s.get();
      }).numPartitions(3),
    );
    const snapshots = totals.stateSnapshots();
    const seen: number[][] = [];
    snapshots.foreachRDD(async (rdd) => {
      seen.push((await rdd.collect()).map(([, n]) => n).sort());
    });
    await ssc.start();
    // The batch's RDDs as the scheduler generates them, planned before any partition is computed.
    const rdds = [totals, snapshots].map((s) => (s as any).getOrCompute(1000) as RDD<unknown>);
    const stages = rdds.map((r) => planStages([r]).map((d) => d.numPartitions));
    clock.advance(1000);
    await ssc.awaitIdle();
    await ssc.stop();
    // reduceByKey into 2 partitions, then partitionBy into mapWithState's 3: two stages, in that order.
    expect(stages).toEqual([
      [2, 3],
      [2, 3],
    ]);
    expect(seen).toEqual([[1, 2]]);
  });
});
