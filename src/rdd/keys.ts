import { InvalidKeyError } from "../errors.js";

/**
 * Keys compare by value: strings, numbers, bigints and booleans directly; arrays, plain objects and instances of
 * registered classes structurally, through a canonical encoding. Anything else is an {@link InvalidKeyError}.
 */
export type Primitive = string | number | bigint | boolean;

export function isPrimitiveKey(k: unknown): k is Primitive {
  const t = typeof k;
  return t === "string" || t === "number" || t === "bigint" || t === "boolean";
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Classes registered with `registerClasses` (by any context of the process), by prototype: their instances are
 * keys that compare by class name and fields, as Scala case classes do in Spark.
 */
const keyClasses = new Map<object, string>();

/** Lets instances of the class with prototype `proto`, registered as `name`, be keys. */
export function allowKeyClass(proto: object, name: string): void {
  keyClasses.set(proto, name);
}

function describe(k: unknown): string {
  if (k === null) return "null";
  if (typeof k === "object") return `an instance of ${(k as object).constructor?.name ?? "an unknown class"}`;
  return typeof k;
}

function encodeInto(k: unknown, out: string[]): void {
  switch (typeof k) {
    case "string":
      out.push(JSON.stringify(k));
      return;
    case "number":
      out.push(Number.isNaN(k) ? "NaN" : Object.is(k, -0) ? "0" : String(k));
      return;
    case "bigint":
      out.push(`${k}n`);
      return;
    case "boolean":
      out.push(k ? "true" : "false");
      return;
    case "object":
      if (k !== null) {
        if (Array.isArray(k)) {
          out.push("[");
          for (let i = 0; i < k.length; i++) {
            if (i > 0) out.push(",");
            encodeInto(k[i], out);
          }
          out.push("]");
          return;
        }
        const plain = isPlainObject(k);
        const cls = plain ? undefined : keyClasses.get(Object.getPrototypeOf(k));
        if (plain || cls !== undefined) {
          if (cls !== undefined) out.push(JSON.stringify(cls));
          out.push("{");
          const names = Object.keys(k).sort();
          for (let i = 0; i < names.length; i++) {
            if (i > 0) out.push(",");
            out.push(JSON.stringify(names[i]), ":");
            encodeInto((k as Record<string, unknown>)[names[i]!], out);
          }
          out.push("}");
          return;
        }
      }
  }
  throw new InvalidKeyError(
    `A key must be a string, number, bigint, boolean, or an array, plain object or instance of a registered class ` +
      `(registerClasses) of those; got ${describe(k)}. Map your records to such a key (for example an id string) ` +
      "before a keyed operation.",
  );
}

/** The canonical string of a structured key (arrays, plain objects); equal keys give equal strings. */
export function encodeKey(k: unknown): string {
  const out: string[] = [];
  encodeInto(k, out);
  return out.join("");
}

/** Throws {@link InvalidKeyError} unless `k` is a valid key. */
export function validateKey(k: unknown): void {
  if (!isPrimitiveKey(k)) encodeKey(k);
}

/**
 * Entries one `Map` of a {@link KeyMap} holds before further keys go to its overflow. V8 caps a Map at 2^24 entries
 * (`RangeError: Map maximum size exceeded`); at 2^23 the table is exactly full, so it never doubles to its largest,
 * 470 MB size.
 */
export const KEYMAP_PRIMARY_CAPACITY = 2 ** 23;
/** Maps the overflow spreads keys over, by hash: about 2^30 keys in all before any one of them is full. */
const OVERFLOW_SHARDS = 64;

/**
 * Keys past a {@link KeyMap}'s primary Map, spread over {@link OVERFLOW_SHARDS} Maps by a stable hash, so that none
 * reaches V8's size limit. Only a KeyMap holding millions of keys has one: below that, nothing here runs.
 */
class Overflow<K, V> {
  private readonly shards: Array<Map<K, V>> = Array.from({ length: OVERFLOW_SHARDS }, () => new Map());
  size = 0;

  constructor(private readonly hash: (k: K) => number) {}

  private shard(k: K): Map<K, V> {
    return this.shards[this.hash(k) & (OVERFLOW_SHARDS - 1)]!;
  }

  get(k: K): V | undefined {
    return this.shard(k).get(k);
  }

  has(k: K): boolean {
    return this.shard(k).has(k);
  }

  set(k: K, v: V): void {
    const shard = this.shard(k);
    const before = shard.size;
    shard.set(k, v);
    this.size += shard.size - before;
  }

  delete(k: K): boolean {
    if (!this.shard(k).delete(k)) return false;
    this.size--;
    return true;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const shard of this.shards) yield* shard;
  }

  forEach(fn: (v: V, k: K) => void): void {
    for (const shard of this.shards) shard.forEach(fn);
  }
}

/**
 * A Map whose keys compare as spate keys do, with no size limit but the heap: the first
 * {@link KEYMAP_PRIMARY_CAPACITY} keys of each kind (primitive, structured) live in one Map, as fast as a plain Map;
 * further keys in an overflow of Maps chosen by hash.
 */
export class KeyMap<K, V> {
  private readonly primitive = new Map<unknown, V>();
  private primitiveOverflow: Overflow<unknown, V> | undefined;
  private structured: Map<string, { key: K; value: V }> | undefined;
  private structuredOverflow: Overflow<string, { key: K; value: V }> | undefined;

  /** `primaryCapacity`: keys of each kind held in the primary Map (lower only to exercise the overflow). */
  constructor(private readonly primaryCapacity = KEYMAP_PRIMARY_CAPACITY) {}

  get size(): number {
    return (
      this.primitive.size +
      (this.primitiveOverflow?.size ?? 0) +
      (this.structured?.size ?? 0) +
      (this.structuredOverflow?.size ?? 0)
    );
  }

  get(k: K): V | undefined {
    if (isPrimitiveKey(k)) {
      const overflow = this.primitiveOverflow;
      if (overflow === undefined) return this.primitive.get(k);
      // A key is in the primary Map or in the overflow, never both: the one holding more keys is looked in first.
      return overflow.size > this.primitive.size
        ? (overflow.get(k) ?? this.primitive.get(k))
        : (this.primitive.get(k) ?? overflow.get(k));
    }
    return this.slot(encodeKey(k))?.value;
  }

  has(k: K): boolean {
    if (isPrimitiveKey(k)) {
      const overflow = this.primitiveOverflow;
      if (overflow === undefined) return this.primitive.has(k);
      return overflow.size > this.primitive.size
        ? overflow.has(k) || this.primitive.has(k)
        : this.primitive.has(k) || overflow.has(k);
    }
    return this.slot(encodeKey(k)) !== undefined;
  }

  set(k: K, v: V): void {
    if (isPrimitiveKey(k)) {
      const primary = this.primitive;
      if (this.primitiveOverflow === undefined) {
        if (primary.size < this.primaryCapacity || primary.has(k)) {
          primary.set(k, v);
          return;
        }
        this.primitiveOverflow = new Overflow<unknown, V>(hashKey);
      }
      // New keys go to the overflow once it exists, even where the primary Map has room again.
      if (primary.has(k)) primary.set(k, v);
      else this.primitiveOverflow.set(k, v);
      return;
    }
    const code = encodeKey(k);
    const slot = this.slot(code);
    if (slot) {
      slot.value = v;
      return;
    }
    this.structured ??= new Map();
    if (this.structuredOverflow === undefined && this.structured.size < this.primaryCapacity) {
      this.structured.set(code, { key: k, value: v });
      return;
    }
    this.structuredOverflow ??= new Overflow<string, { key: K; value: V }>(hashString);
    this.structuredOverflow.set(code, { key: k, value: v });
  }

  delete(k: K): boolean {
    if (isPrimitiveKey(k)) {
      const overflow = this.primitiveOverflow;
      if (overflow === undefined) return this.primitive.delete(k);
      return overflow.size > this.primitive.size
        ? overflow.delete(k) || this.primitive.delete(k)
        : this.primitive.delete(k) || overflow.delete(k);
    }
    const code = encodeKey(k);
    return (this.structured?.delete(code) ?? false) || (this.structuredOverflow?.delete(code) ?? false);
  }

  clear(): void {
    this.primitive.clear();
    this.primitiveOverflow = undefined;
    this.structured?.clear();
    this.structuredOverflow = undefined;
  }

  private slot(code: string): { key: K; value: V } | undefined {
    const overflow = this.structuredOverflow;
    if (overflow === undefined) return this.structured?.get(code);
    return overflow.size > this.structured!.size
      ? (overflow.get(code) ?? this.structured!.get(code))
      : (this.structured!.get(code) ?? overflow.get(code));
  }

  /**
   * Entries in insertion order (primitive keys first), as long as each kind fits in the primary Map; keys past it
   * come after those of the primary Map, grouped by hash.
   */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.primitive) yield [k as K, v];
    if (this.primitiveOverflow) for (const [k, v] of this.primitiveOverflow.entries()) yield [k as K, v];
    if (this.structured) for (const slot of this.structured.values()) yield [slot.key, slot.value];
    if (this.structuredOverflow)
      for (const [, slot] of this.structuredOverflow.entries()) yield [slot.key, slot.value];
  }

  *values(): IterableIterator<V> {
    yield* this.primitive.values();
    if (this.primitiveOverflow) for (const [, v] of this.primitiveOverflow.entries()) yield v;
    if (this.structured) for (const slot of this.structured.values()) yield slot.value;
    if (this.structuredOverflow) for (const [, slot] of this.structuredOverflow.entries()) yield slot.value;
  }

  /** Calls `fn` for every entry, in the order of {@link entries}; `fn` may set or delete the key it is given. */
  forEach(fn: (value: V, key: K) => void): void {
    this.primitive.forEach((v, k) => {
      fn(v, k as K);
    });
    this.primitiveOverflow?.forEach((v, k) => {
      fn(v, k as K);
    });
    const visit = (slot: { key: K; value: V }) => {
      fn(slot.value, slot.key);
    };
    this.structured?.forEach(visit);
    this.structuredOverflow?.forEach(visit);
  }
}

// FNV-1a over UTF-16 code units, then a final avalanche: stable across processes and machines, so that a key's
// partition survives a restart and is the same on every worker.
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return avalanche(h);
}

function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A stable 32-bit hash of a key. */
export function hashKey(k: unknown): number {
  switch (typeof k) {
    case "string":
      return hashString(k);
    case "number":
      return (k | 0) === k ? avalanche(k) : hashString(Object.is(k, -0) ? "0" : String(k));
    case "boolean":
      return k ? 1 : 0;
    case "bigint":
      return hashString(`${k}n`);
    default:
      return hashString(encodeKey(k));
  }
}

/** A stable short hex hash of a string, for operator ids. */
export function shortHash(s: string): string {
  return hashString(s).toString(16).padStart(8, "0");
}

const TYPE_ORDER: Record<string, number> = {
  undefined: 0,
  boolean: 1,
  number: 2,
  bigint: 2,
  string: 3,
  object: 4,
};

/** A total order over values: numbers numerically, strings by code unit, arrays lexicographically. */
export function compareValues(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === "number" || ta === "bigint") && (tb === "number" || tb === "bigint")) {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (ta !== tb) return (TYPE_ORDER[ta] ?? 5) - (TYPE_ORDER[tb] ?? 5);
  if (ta === "string" || ta === "boolean") return a! < b! ? -1 : a! > b! ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const c = compareValues(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Formats a record as Spark prints it: tuples as `(a,1)`, other values as text. */
export function formatRecord(x: unknown): string {
  if (Array.isArray(x)) return `(${x.map(formatRecord).join(",")})`;
  if (x === undefined) return "None";
  if (x !== null && typeof x === "object")
    return JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}` : v));
  return String(x);
}
