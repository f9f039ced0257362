import { InvalidArgumentError } from "../errors.js";
import { allowKeyClass } from "../rdd/keys.js";

/** A class whose instances can be registered (abstract ones too: a subclass may be the registered one). */
export type RegisteredClass = abstract new (...args: any[]) => unknown;

/** Built-ins whose instances carry internal slots that a class registration (own fields only) would lose. */
const BUILT_IN_PROTOTYPES: ReadonlySet<object> = new Set<object>(
  [
    Array,
    Map,
    Set,
    WeakMap,
    WeakSet,
    Date,
    RegExp,
    Error,
    Promise,
    ArrayBuffer,
    DataView,
    Object.getPrototypeOf(Uint8Array) as object,
    Function,
  ].map((c) => (c as { prototype: object }).prototype),
);

/**
 * The classes of one job whose instances keep their prototype through checkpoints (Kryo's `registerKryoClasses`):
 * an instance is stored as its class name and its own enumerable fields, and comes back as an object of that
 * prototype with those fields, without a constructor call (as Java deserialization).
 */
export class ClassRegistry {
  private readonly byName = new Map<string, RegisteredClass>();
  private readonly byPrototype = new Map<object, string>();

  register(classes: readonly RegisteredClass[]): void {
    for (const cls of classes) {
      if (typeof cls !== "function" || typeof cls.prototype !== "object" || cls.prototype === null) {
        throw new InvalidArgumentError(
          `registerClasses() takes classes (got ${cls === null ? "null" : typeof cls}); pass the class itself, e.g. registerClasses(Session).`,
        );
      }
      const name = cls.name;
      if (typeof name !== "string" || name === "") {
        throw new InvalidArgumentError(
          "registerClasses() needs named classes: a class is stored in checkpoints by its name.",
        );
      }
      for (let p: object | null = cls.prototype; p !== null; p = Object.getPrototypeOf(p)) {
        if (BUILT_IN_PROTOTYPES.has(p)) {
          throw new InvalidArgumentError(
            `registerClasses(${name}): ${name} extends a built-in (${(p as { constructor: { name: string } }).constructor.name}) ` +
              "whose content is not in own fields; keep the built-in in a field of a plain class instead, or use a codec.",
          );
        }
      }
      const existing = this.byName.get(name);
      if (existing === cls) continue;
      if (existing) {
        throw new InvalidArgumentError(
          `registerClasses(): two different classes are named "${name}"; checkpoints store a class by its name, so ` +
            "registered names must be unique. Rename one of them.",
        );
      }
      this.byName.set(name, cls);
      this.byPrototype.set(cls.prototype as object, name);
      allowKeyClass(cls.prototype as object, name);
    }
  }

  /** The registered name of the class whose prototype is exactly `proto`. */
  nameOf(proto: object | null): string | undefined {
    return proto === null ? undefined : this.byPrototype.get(proto);
  }

  classNamed(name: string): RegisteredClass | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }
}

/** What makes a value unrestorable, and where inside it. */
export interface Unrestorable {
  path: string;
  type: string;
}

type Segment = string | number | { kind: "mapKey" | "mapValue" | "setValue"; index: number; key?: unknown };

const EMPTY_REGISTRY = new ClassRegistry();

/**
 * Whether `value` comes back from a checkpoint as it is; if not, the first thing that does not and its path
 * (`root.items[3]`). Primitives return at once; objects are walked. Not restorable: functions, Symbols, thenables,
 * circular references, instances of classes not registered (and of Error, WeakMap, …), and objects with an own
 * `__proto__` property (msgpack renames it).
 */
export function findUnrestorable(
  value: unknown,
  registry: ClassRegistry = EMPTY_REGISTRY,
  root = "state",
): Unrestorable | undefined {
  const t = typeof value;
  if (t !== "object" && t !== "function" && t !== "symbol") return undefined;
  if (value === null) return undefined;
  const path: Segment[] = [];
  const type = walk(value, registry, [], path);
  return type === undefined ? undefined : { path: formatPath(root, path), type };
}

function walk(v: unknown, registry: ClassRegistry, ancestors: object[], path: Segment[]): string | undefined {
  switch (typeof v) {
    case "symbol":
      return `a Symbol (${v.toString()})`;
    case "function":
      return `a function${v.name ? ` (${v.name})` : ""}`;
    case "object":
      break;
    default:
      return undefined;
  }
  if (v === null) return undefined;
  if (typeof (v as { then?: unknown }).then === "function") return "a Promise (or other thenable)";
  if (ancestors.includes(v)) return "a circular reference (an object that contains itself)";
  const proto = Object.getPrototypeOf(v) as object | null;
  let fields: boolean;
  if (proto === Object.prototype || proto === null || registry.nameOf(proto) !== undefined) fields = true;
  else if (proto === Array.prototype) fields = false;
  else if (proto === Map.prototype || proto === Set.prototype) {
    ancestors.push(v);
    const bad =
      proto === Map.prototype
        ? walkMap(v as Map<unknown, unknown>, registry, ancestors, path)
        : walkSet(v as Set<unknown>, registry, ancestors, path);
    if (bad !== undefined) return bad;
    ancestors.pop();
    return undefined;
  } else if (isLeafBuiltIn(v, proto)) return undefined;
  else return describeInstance(v, proto);
  ancestors.push(v);
  if (fields) {
    if (Object.hasOwn(v, "__proto__")) {
      path.push("__proto__");
      return "an own property named __proto__ (renamed by the checkpoint encoding)";
    }
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      const t = typeof x;
      if (t !== "object" && t !== "function" && t !== "symbol") continue;
      path.push(k);
      const bad = walk(x, registry, ancestors, path);
      if (bad !== undefined) return bad;
      path.pop();
    }
  } else {
    const a = v as unknown[];
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      const t = typeof x;
      if (t !== "object" && t !== "function" && t !== "symbol") continue;
      path.push(i);
      const bad = walk(x, registry, ancestors, path);
      if (bad !== undefined) return bad;
      path.pop();
    }
  }
  ancestors.pop();
  return undefined;
}

function walkMap(m: Map<unknown, unknown>, registry: ClassRegistry, ancestors: object[], path: Segment[]) {
  let i = 0;
  for (const [k, x] of m) {
    path.push({ kind: "mapKey", index: i });
    let bad = walk(k, registry, ancestors, path);
    if (bad !== undefined) return bad;
    path.pop();
    path.push({ kind: "mapValue", index: i, key: k });
    bad = walk(x, registry, ancestors, path);
    if (bad !== undefined) return bad;
    path.pop();
    i++;
  }
  return undefined;
}

function walkSet(s: Set<unknown>, registry: ClassRegistry, ancestors: object[], path: Segment[]) {
  let i = 0;
  for (const x of s) {
    path.push({ kind: "setValue", index: i });
    const bad = walk(x, registry, ancestors, path);
    if (bad !== undefined) return bad;
    path.pop();
    i++;
  }
  return undefined;
}

/** Built-ins the checkpoint encoding stores whole: Date, RegExp, ArrayBuffer, DataView, typed arrays, Buffer. */
function isLeafBuiltIn(v: object, proto: object | null): boolean {
  if (proto === Date.prototype || proto === RegExp.prototype || proto === ArrayBuffer.prototype) return true;
  if (ArrayBuffer.isView(v)) {
    const ctor = (proto as { constructor?: unknown } | null)?.constructor;
    return (
      proto === DataView.prototype ||
      ctor === Buffer ||
      (typeof ctor === "function" && (globalThis as Record<string, unknown>)[ctor.name] === ctor)
    );
  }
  return false;
}

function describeInstance(v: object, proto: object | null): string {
  if (v instanceof Error) return `an Error (${v.name}: only its name and message would be kept)`;
  const ctor = (proto as { constructor?: { name?: string } } | null)?.constructor;
  const name = typeof ctor === "function" && ctor.name ? ctor.name : "an anonymous class";
  if ((globalThis as Record<string, unknown>)[name] === ctor) return `a ${name}`;
  return `an instance of class ${name}, which is not registered (ssc.registerClasses(${name}))`;
}

function formatPath(root: string, path: Segment[]): string {
  let out = root;
  for (const s of path) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string") out += /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    else if (s.kind === "mapKey") out += `.keys()[${s.index}]`;
    else if (s.kind === "setValue") out += `.values()[${s.index}]`;
    else out += `.get(${keyText(s.key, s.index)})`;
  }
  return out;
}

function keyText(k: unknown, index: number): string {
  const t = typeof k;
  if (t === "string") return JSON.stringify(k);
  if (t === "number" || t === "boolean") return String(k);
  if (t === "bigint") return `${k}n`;
  return `<key ${index}>`;
}
