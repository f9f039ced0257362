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

/** A Map whose keys compare as spate keys do. */
export class KeyMap<K, V> {
  private readonly primitive = new Map<unknown, V>();
  private structured: Map<string, { key: K; value: V }> | undefined;

  get size(): number {
    return this.primitive.size + (this.structured?.size ?? 0);
  }

  get(k: K): V | undefined {
    if (isPrimitiveKey(k)) return this.primitive.get(k);
    return this.structured?.get(encodeKey(k))?.value;
  }

  has(k: K): boolean {
    if (isPrimitiveKey(k)) return this.primitive.has(k);
    return this.structured?.has(encodeKey(k)) ?? false;
  }

  set(k: K, v: V): void {
    if (isPrimitiveKey(k)) {
      this.primitive.set(k, v);
      return;
    }
    const code = encodeKey(k);
    this.structured ??= new Map();
    const slot = this.structured.get(code);
    if (slot) slot.value = v;
    else this.structured.set(code, { key: k, value: v });
  }

  delete(k: K): boolean {
    if (isPrimitiveKey(k)) return this.primitive.delete(k);
    return this.structured?.delete(encodeKey(k)) ?? false;
  }

  clear(): void {
    this.primitive.clear();
    this.structured?.clear();
  }

  /** Entries in insertion order (primitive keys first). */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of this.primitive) yield [k as K, v];
    if (this.structured) for (const slot of this.structured.values()) yield [slot.key, slot.value];
  }

  *values(): IterableIterator<V> {
    yield* this.primitive.values();
    if (this.structured) for (const slot of this.structured.values()) yield slot.value;
  }

  forEach(fn: (value: V, key: K) => void): void {
    this.primitive.forEach((v, k) => {
      fn(v, k as K);
    });
    this.structured?.forEach((slot) => {
      fn(slot.value, slot.key);
    });
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
