// Queryable state (beyond Spark, as Kafka Streams' interactive queries): one key's current state in one stateful
// operator, read-only, rendered as JSON whatever the state holds.
import type { GraphStream } from "../graph/DStreamGraph.js";
import { encodeKey, isPrimitiveKey, validateKey } from "../rdd/keys.js";
import type { StreamingContext } from "../StreamingContext.js";

/** What `GET /api/v1/streaming/state/<operator>?key=<json>` answers. */
export interface StateQueryJson {
  operator: string;
  kind: string;
  key: unknown;
  found: boolean;
  /** The state, as JSON (see {@link toJsonSafe}). */
  state?: unknown;
  /** The batch time of the key's last update (stores that track it), or of the window read. */
  updatedAt?: string;
}

/** The stateful operators of a context: the ones whose state can be queried. */
export function queryableOperators(ssc: StreamingContext): Array<{ id: string; kind: string }> {
  return ssc.graph.streams.filter((s) => s.op.checkpointState).map((s) => ({ id: s.id, kind: s.op.kind }));
}

const sameKey = (a: unknown, b: unknown): boolean =>
  isPrimitiveKey(a) || isPrimitiveKey(b)
    ? Object.is(a, b) || (a === 0 && b === 0)
    : encodeKey(a) === encodeKey(b);

/**
 * Looks `key` up in the operator `operatorId`: in each partition's state store (so the answer does not depend on
 * how keys are partitioned), or, for an operator whose state is its last RDD (a reduced window), in the window
 * computed by the last batch that completed without failing (`lastGoodBatch`), never computing anything.
 * Undefined for an unknown or stateless operator; throws InvalidKeyError for a value that cannot be a key.
 */
export function queryState(
  ssc: StreamingContext,
  operatorId: string,
  key: unknown,
  lastGoodBatch: number | undefined,
): StateQueryJson | undefined {
  const stream = ssc.graph.streams.find((s) => s.id === operatorId && s.op.checkpointState);
  if (!stream) return undefined;
  validateKey(key);
  const base = { operator: stream.id, kind: stream.op.kind, key };
  const stores = [...ssc.stateStores.stores()].filter((s) => s.operatorId === stream.id);
  if (stores.length > 0) {
    for (const store of stores) {
      const value = store.get(key);
      if (value) {
        return {
          ...base,
          found: true,
          state: toJsonSafe(value.state),
          ...(value.updatedAt > 0 ? { updatedAt: new Date(value.updatedAt).toISOString() } : {}),
        };
      }
    }
    return { ...base, found: false };
  }
  return fromLastWindow(stream, base, lastGoodBatch);
}

function fromLastWindow(
  stream: GraphStream,
  base: { operator: string; kind: string; key: unknown },
  upTo: number | undefined,
): StateQueryJson {
  const times = upTo === undefined ? [] : stream.generatedTimes().filter((t) => t <= upTo);
  const time = times.length > 0 ? Math.max(...times) : undefined;
  const rdd = time === undefined ? undefined : stream.getOrCompute(time);
  if (!rdd?.isPersisted) return { ...base, found: false };
  for (const part of rdd.materialize() as Array<Array<[unknown, unknown]>>) {
    for (const pair of part) {
      if (sameKey(pair[0], base.key)) {
        return { ...base, found: true, state: toJsonSafe(pair[1]), updatedAt: new Date(time!).toISOString() };
      }
    }
  }
  return { ...base, found: false };
}

const MAX_DEPTH = 32;
const MAX_ITEMS = 1000;

/**
 * A JSON-safe copy of any value: `Map`, `Set`, `bigint`, `Date`, non-finite numbers, `undefined` and class
 * instances become objects tagged with `$type` (an instance keeps its own fields beside its class name), cycles
 * and depths past 32 are cut (`$type: "cycle"` / `"truncated"`), and collections are cut after 1000 items.
 */
export function toJsonSafe(value: unknown, depth = 0, seen = new Set<object>()): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { $type: "number", value: String(value) };
    case "bigint":
      return { $type: "bigint", value: value.toString() };
    case "undefined":
      return { $type: "undefined" };
    case "symbol":
      return { $type: "symbol", value: value.description ?? "" };
    case "function":
      return { $type: "function", name: value.name };
  }
  if (value === null) return null;
  const o = value as object;
  if (o instanceof Date)
    return { $type: "Date", value: Number.isNaN(o.getTime()) ? "Invalid Date" : o.toISOString() };
  if (seen.has(o)) return { $type: "cycle" };
  if (depth >= MAX_DEPTH) return { $type: "truncated" };
  seen.add(o);
  try {
    const inner = (v: unknown) => toJsonSafe(v, depth + 1, seen);
    const items = <T>(it: Iterable<T>, size: number, fn: (x: T) => unknown) => {
      const out: unknown[] = [];
      for (const x of it) {
        if (out.length >= MAX_ITEMS) break;
        out.push(fn(x));
      }
      return size > MAX_ITEMS ? { items: out, size } : { items: out };
    };
    if (Array.isArray(o)) {
      const { items: out, size } = items(o, o.length, inner) as { items: unknown[]; size?: number };
      return size === undefined ? out : { $type: "Array", size, items: out };
    }
    if (o instanceof Map) {
      const { items: entries, size } = items(o, o.size, ([k, v]) => [inner(k), inner(v)]);
      return { $type: "Map", ...(size !== undefined ? { size } : {}), entries };
    }
    if (o instanceof Set) return { $type: "Set", ...items(o, o.size, inner) };
    if (ArrayBuffer.isView(o)) {
      const bytes = new Uint8Array(o.buffer, o.byteOffset, Math.min(o.byteLength, MAX_ITEMS));
      return {
        $type: o.constructor.name,
        byteLength: o.byteLength,
        base64: Buffer.from(bytes).toString("base64"),
      };
    }
    const proto = Object.getPrototypeOf(o);
    const fields: Record<string, unknown> = {};
    if (proto !== Object.prototype && proto !== null) fields.$type = o.constructor?.name || "Object";
    if (o instanceof Error) fields.message = o.message;
    let n = 0;
    for (const k of Object.keys(o)) {
      if (n++ >= MAX_ITEMS) break;
      fields[k] = inner((o as Record<string, unknown>)[k]);
    }
    return fields;
  } finally {
    seen.delete(o);
  }
}
