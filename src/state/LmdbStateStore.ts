import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type Database, open, type RootDatabase } from "lmdb";
import { StateNotSerializableError } from "../errors.js";
import { encodeKey, KeyMap } from "../rdd/keys.js";
import type {
  StateBackend,
  StateBackendEnv,
  StateChanges,
  StateEntry,
  StateSnapshot,
  StateStore,
  StateStoreOptions,
  StateStoreProvider,
  StateValue,
} from "./StateStore.js";

/** One key written by the running batch: its new state (and its value as LMDB will hold it), or a removal. */
interface Pending<K, S> {
  key: K;
  state: S | undefined;
  updatedAt: number;
  removed: boolean;
  kb: Buffer;
  value: Uint8Array | undefined;
  /** Whether the key was in the database before the batch, and its update time there, when a read saw it. */
  existed: boolean | undefined;
  oldTime: number;
}

/** What the LMDB backend gets from spate's own contexts besides the public env: why a value does not encode. */
export interface LmdbBackendEnv extends StateBackendEnv {
  /** The first part of `value` that a checkpoint cannot hold, and where (as findUnrestorable). */
  unrestorable?(value: unknown, root: string): { path: string; type: string } | undefined;
}

// Key bytes: a tag, then the key. Primitives are decoded from their bytes; structured keys (and keys too long for an
// LMDB key, stored by hash) are kept in the value as well.
const T_STRING = 0x73; // s
const T_NUMBER = 0x6e; // n
const T_BIGINT = 0x62; // b
const T_TRUE = 0x74; // t
const T_FALSE = 0x66; // f
const T_OBJECT = 0x6f; // o: the canonical encoding of a structured key (keys.ts)
const T_HASHED = 0x68; // h: a long key, by the SHA-256 of its tag and canonical encoding
/** LMDB keys are at most 1978 bytes; longer keys go by hash (a UTF-8 character is at most 3 bytes per UTF-16 unit). */
const MAX_INLINE_CHARS = 600;
const EMPTY = new Uint8Array(0);
/** Full snapshots of stores with at least this many keys are images of the database file (see `snapshot`). */
export const IMAGE_MIN_KEYS = 50_000;
/** The image format: an LMDB data file with this store's databases and encodings. */
export const IMAGE_FORMAT = "lmdb-1";
/**
 * A value: the update time (float64, 8 bytes), a kind byte, then the state: a float64 for a number state of a
 * primitive key (kind 1), else the encoded `[state]` or `[state, key]` (kind 0).
 */
const TIME_BYTES = 8;
const BODY = TIME_BYTES + 1;
const KIND_ENCODED = 0;
const KIND_NUMBER = 1;

function hashed(tag: number, text: string): Buffer {
  const out = Buffer.allocUnsafe(33);
  out[0] = T_HASHED;
  createHash("sha256").update(String.fromCharCode(tag)).update(text).digest().copy(out, 1);
  return out;
}

function textKey(tag: number, text: string): Buffer {
  if (text.length > MAX_INLINE_CHARS) return hashed(tag, text);
  const out = Buffer.allocUnsafe(1 + Buffer.byteLength(text));
  out[0] = tag;
  out.write(text, 1);
  return out;
}

/** The LMDB key of a spate key: equal keys (as KeyMap compares them) give equal bytes. */
export function keyBytes(k: unknown): Buffer {
  switch (typeof k) {
    case "string":
      return textKey(T_STRING, k);
    case "number": {
      const out = Buffer.allocUnsafe(9);
      out[0] = T_NUMBER;
      // -0 is 0 and every NaN one NaN, as in a Map.
      if (Number.isNaN(k)) {
        out.writeUInt32BE(0x7ff80000, 1);
        out.writeUInt32BE(0, 5);
      } else out.writeDoubleBE(k === 0 ? 0 : k, 1);
      return out;
    }
    case "bigint":
      return textKey(T_BIGINT, k.toString());
    case "boolean":
      return Buffer.of(k ? T_TRUE : T_FALSE);
    default:
      return textKey(T_OBJECT, encodeKey(k));
  }
}

/** Whether the key cannot be read back from its bytes (so the value carries it). */
function keyInValue(kb: Uint8Array): boolean {
  return kb[0] === T_OBJECT || kb[0] === T_HASHED;
}

function keyFromBytes(kb: Uint8Array): unknown {
  const b = Buffer.from(kb.buffer, kb.byteOffset, kb.byteLength);
  switch (b[0]) {
    case T_STRING:
      return b.toString("utf8", 1);
    case T_NUMBER:
      return b.readDoubleBE(1);
    case T_BIGINT:
      return BigInt(b.toString("latin1", 1));
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    default:
      throw new Error("internal error: a structured state key read back from its bytes");
  }
}

/** Update times as order-preserving bytes (float64 with its sign flipped, or every bit for negatives). */
function timeBytes(t: number, out: Buffer, offset: number): void {
  out.writeDoubleBE(t === 0 ? 0 : t, offset);
  if (out[offset]! & 0x80) for (let i = offset; i < offset + 8; i++) out[i] = ~out[i]! & 0xff;
  else out[offset] = out[offset]! | 0x80;
}

function timeKey(t: number, kb: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(TIME_BYTES + kb.length);
  timeBytes(t, out, 0);
  out.set(kb, TIME_BYTES);
  return out;
}

/**
 * A store in an LMDB database (one environment per store, in the backend's working folder): committed state lives
 * in LMDB's memory-mapped file, outside the JS heap, and the running batch's writes in a small map in the heap.
 * Commit writes that map in one LMDB write transaction, keys in sorted order (sequential B-tree pages); abort drops
 * it, so LMDB never sees an aborted batch. With `indexByTime`, a second database keyed by (update time, key) finds
 * idle keys in O(result). With `trackChanges`, a third one lists the keys changed since the last snapshot, so a
 * delta costs O(changed keys) in time and heap. The heap holds one batch's writes, whatever the number of keys.
 *
 * LMDB writes are not synced to disk: the folder is a working copy that a restart clears and rebuilds from the
 * checkpoints, so durability comes from the checkpoints alone.
 */
export class LmdbStateStore<K, S> implements StateStore<K, S> {
  private root!: RootDatabase<any, Buffer>;
  private main!: Database<any, Buffer>;
  private byTime: Database<any, Buffer> | undefined;
  private changes: Database<any, Buffer> | undefined;
  private pending = new KeyMap<K, Pending<K, S>>();
  private count = 0;
  private readonly codec: StateStoreOptions["codec"];
  version: number | undefined = undefined;
  lastCommit = { written: 0, removed: 0 };
  private closed = false;
  /** The database file in use: `base`, then `base.<n>` after the nth restore of an image. */
  private file: string;
  private generation = 0;

  constructor(
    readonly operatorId: string,
    readonly partition: number,
    private readonly base: string,
    private readonly env: LmdbBackendEnv,
    private readonly options: StateStoreOptions = {},
  ) {
    this.codec = options.codec;
    this.file = base;
    removeFiles(base);
    this.openFile(base);
  }

  private openFile(file: string): void {
    this.root = open<any, Buffer>({
      path: file,
      maxDbs: 4,
      noSync: true,
      encoding: "binary",
      keyEncoding: "binary",
    });
    const db = (name: string) =>
      this.root.openDB<any, Buffer>({ name, encoding: "binary", keyEncoding: "binary" });
    this.main = db("state");
    this.byTime = this.options.indexByTime ? db("byTime") : undefined;
    this.changes = (this.options.trackChanges ?? true) ? db("changes") : undefined;
  }

  /**
   * Replaces the database by an image of another one (a full snapshot's): written as a new file and opened, in
   * O(its bytes), with no work per key; the old file is closed and deleted.
   */
  private openImage(bytes: Uint8Array): void {
    const old = this.root;
    const oldFile = this.file;
    this.file = `${this.base}.${++this.generation}`;
    removeFiles(this.file);
    writeFileSync(this.file, bytes);
    this.openFile(this.file);
    void old.close().then(() => removeFiles(oldFile));
    const changes = this.changes;
    if (changes) this.root.transactionSync(() => changes.clearSync());
    this.count = (this.main.getStats() as { entryCount: number }).entryCount;
  }

  get size(): number {
    let n = this.count;
    this.pending.forEach((p) => {
      const existed = this.main.doesExist(p.kb);
      if (p.removed && existed) n--;
      else if (!p.removed && !existed) n++;
    });
    return n;
  }

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** The entry's key, state and update time from its LMDB key and value. */
  private decodeEntry(kb: Uint8Array, value: Uint8Array): { key: K; state: S; updatedAt: number } {
    // lmdb's fast reads give a view of a shared buffer whose `length` (not byteLength) is the value's.
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.length);
    const updatedAt = v.readDoubleBE(0);
    let raw: unknown;
    let key: K;
    if (v[TIME_BYTES] === KIND_NUMBER) {
      raw = v.readDoubleBE(BODY);
      key = keyFromBytes(kb) as K;
    } else {
      const body = this.env.decode(v.subarray(BODY, v.length)) as [unknown, unknown?];
      raw = body[0];
      key = (keyInValue(kb) ? body[1] : keyFromBytes(kb)) as K;
    }
    const state = (this.codec ? this.codec.decode(raw) : raw) as S;
    return { key, state, updatedAt };
  }

  /**
   * The LMDB value of an entry. A key or state that does not encode fails the write (and so its batch, which rolls
   * back) with SPATE_STATE_NOT_SERIALIZABLE, as a checkpoint would: state outside the heap is always encoded.
   */
  private encodeEntry(kb: Uint8Array, p: Pick<Pending<K, S>, "key" | "state" | "updatedAt">): Uint8Array {
    const state = this.codec ? this.codec.encode(p.state) : p.state;
    const t = typeof state;
    if (this.env.unrestorable && (t === "object" || t === "function" || t === "symbol" || keyInValue(kb))) {
      // What the encoding would drop or change silently (functions, unregistered classes) is refused too.
      const bad = this.env.unrestorable(p.key, "key") ?? this.env.unrestorable(state, "state");
      if (bad) throw new StateNotSerializableError(this.operatorId, p.key, bad.path, bad.type, p.updatedAt);
    }
    if (typeof state === "number" && !keyInValue(kb)) {
      const out = Buffer.allocUnsafe(BODY + 8);
      out.writeDoubleBE(p.updatedAt, 0);
      out[TIME_BYTES] = KIND_NUMBER;
      out.writeDoubleBE(state, BODY);
      return out;
    }
    let body: Uint8Array;
    try {
      body = this.env.encode(keyInValue(kb) ? [state, p.key] : [state]);
    } catch (e) {
      const type = `a value that does not encode (${e instanceof Error ? e.message : String(e)})`;
      throw new StateNotSerializableError(this.operatorId, p.key, "state", type, p.updatedAt, e);
    }
    const out = Buffer.allocUnsafe(BODY + body.length);
    out.writeDoubleBE(p.updatedAt, 0);
    out[TIME_BYTES] = KIND_ENCODED;
    out.set(body, BODY);
    return out;
  }

  private shownTime(t: number): number {
    return this.byTime ? t : 0;
  }

  get(key: K): StateValue<S> | undefined {
    const p = this.pending.get(key);
    if (p) return p.removed ? undefined : { state: p.state as S, updatedAt: this.shownTime(p.updatedAt) };
    const kb = keyBytes(key);
    const value = this.main.getBinaryFast(kb);
    // Kept for a put of the same key that follows (mapWithState reads then writes each key): it needs neither
    // the key's bytes again nor a read at commit.
    this.lastKey = key;
    this.lastKb = kb;
    this.lastExisted = value !== undefined;
    if (value === undefined) return undefined;
    // The key is known: only the state is decoded.
    const v = value as Buffer;
    const updatedAt = v.readDoubleBE(0);
    let raw: unknown;
    if (v[TIME_BYTES] === KIND_NUMBER) raw = v.readDoubleBE(BODY);
    else raw = (this.env.decode(v.subarray(BODY, v.length)) as [unknown])[0];
    this.lastTime = updatedAt;
    return { state: (this.codec ? this.codec.decode(raw) : raw) as S, updatedAt: this.shownTime(updatedAt) };
  }

  private lastKey: K | undefined;
  private lastKb: Buffer | undefined;
  private lastExisted = false;
  private lastTime = 0;

  private forgetLastRead(): void {
    this.lastKey = undefined;
    this.lastKb = undefined;
  }

  put(key: K, state: S, updatedAt: number): void {
    const p = this.pending.get(key);
    const read = p === undefined && this.lastKb !== undefined && this.lastKey === key;
    const kb = p?.kb ?? (read ? this.lastKb! : keyBytes(key));
    // Encoded now: the batch that writes a value that cannot be stored fails in its own compute, before any commit.
    const value = this.encodeEntry(kb, { key, state, updatedAt });
    if (p) {
      p.state = state;
      p.updatedAt = updatedAt;
      p.removed = false;
      p.value = value;
    } else {
      const existed = read ? this.lastExisted : undefined;
      const oldTime = read && this.lastExisted ? this.lastTime : 0;
      this.pending.set(key, { key, state, updatedAt, removed: false, kb, value, existed, oldTime });
    }
  }

  remove(key: K): void {
    const p = this.pending.get(key);
    if (p) {
      p.removed = true;
      p.state = undefined;
      p.value = undefined;
    } else {
      const kb = keyBytes(key);
      if (this.main.doesExist(kb)) {
        this.pending.set(key, {
          key,
          state: undefined,
          updatedAt: 0,
          removed: true,
          kb,
          value: undefined,
          existed: undefined,
          oldTime: 0,
        });
      }
    }
  }

  forEach(fn: (state: S, key: K, updatedAt: number) => void): void {
    // Committed entries first (a read snapshot of LMDB: the batch's writes are not in it), then keys created by
    // the batch. `fn` may put or remove the key it gets: that only touches the pending map.
    for (const { key: kb, value } of this.main.getRange({})) {
      const e = this.decodeEntry(kb, value);
      const p = this.pending.get(e.key);
      if (!p) fn(e.state, e.key, this.shownTime(e.updatedAt));
      else if (!p.removed) fn(p.state as S, e.key, this.shownTime(p.updatedAt));
    }
    const created: Pending<K, S>[] = [];
    this.pending.forEach((p) => {
      if (!p.removed && !this.main.doesExist(p.kb)) created.push(p);
    });
    for (const p of created) if (!p.removed) fn(p.state as S, p.key, this.shownTime(p.updatedAt));
  }

  /** Lazily, in key order, then the keys the running batch created: a caller that stops early reads no more. */
  *entries(): IterableIterator<StateEntry<K, S>> {
    for (const { key: kb, value } of this.main.getRange({})) {
      const e = this.decodeEntry(kb, value);
      const p = this.pending.get(e.key);
      if (!p) yield { key: e.key, state: e.state, updatedAt: this.shownTime(e.updatedAt) };
      else if (!p.removed) yield { key: e.key, state: p.state as S, updatedAt: this.shownTime(p.updatedAt) };
    }
    const created: Pending<K, S>[] = [];
    this.pending.forEach((p) => {
      if (!p.removed && !this.main.doesExist(p.kb)) created.push(p);
    });
    for (const p of created)
      yield { key: p.key, state: p.state as S, updatedAt: this.shownTime(p.updatedAt) };
  }

  updatedBefore(time: number): StateEntry<K, S>[] {
    const byTime = this.byTime;
    if (!byTime) throw new Error(`state store ${this.operatorId}/${this.partition} has no time index`);
    const end = Buffer.allocUnsafe(TIME_BYTES);
    timeBytes(time, end, 0);
    const out: StateEntry<K, S>[] = [];
    for (const ik of byTime.getKeys({ end })) {
      const kb = ik.subarray(TIME_BYTES);
      const value = this.main.getBinaryFast(kb);
      if (value === undefined) continue;
      const e = this.decodeEntry(kb, value);
      if (this.pending.has(e.key)) continue; // written by the running batch: not idle as of the last commit
      out.push(e);
    }
    return out;
  }

  forEachWritten(fn: (state: S, key: K) => void): void {
    this.pending.forEach((p) => {
      if (!p.removed) fn(p.state as S, p.key);
    });
  }

  commit(version: number): void {
    // In key order (byte order: a Latin-1 string per key compares as its bytes), so that the B-tree is written
    // page after page.
    const batch: Array<{ order: string; kb: Buffer; p: Pending<K, S> }> = [];
    this.pending.forEach((p) => {
      batch.push({ order: p.kb.toString("latin1"), kb: p.kb, p });
    });
    batch.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    this.forgetLastRead();
    let written = 0;
    let removed = 0;
    let count = this.count;
    const { main, byTime, changes } = this;
    if (batch.length > 0) {
      this.root.transactionSync(() => {
        for (const { kb, p } of batch) {
          let existed = p.existed;
          let oldTime = p.oldTime;
          if (existed === undefined) {
            const old = main.getBinaryFast(kb);
            existed = old !== undefined;
            oldTime = existed ? old!.readDoubleBE(0) : 0;
          }
          if (p.removed) {
            if (!existed) continue;
            main.removeSync(kb);
            if (byTime) byTime.removeSync(timeKey(oldTime, kb));
            count--;
            removed++;
            // A removed structured key is kept in the change list: a delta must name it.
            changes?.putSync(kb, keyInValue(kb) ? this.env.encode(p.key) : EMPTY);
          } else {
            main.putSync(kb, p.value!);
            if (byTime && (!existed || oldTime !== p.updatedAt)) {
              if (existed) byTime.removeSync(timeKey(oldTime, kb));
              byTime.putSync(timeKey(p.updatedAt, kb), EMPTY);
            }
            if (!existed) count++;
            written++;
            changes?.putSync(kb, EMPTY);
          }
        }
      });
    }
    this.count = count;
    this.lastCommit = { written, removed };
    this.pending = new KeyMap();
    this.version = version;
  }

  abort(): void {
    this.pending = new KeyMap();
    this.forgetLastRead();
  }

  /** See {@link StateStore.snapshot}; a full one of many keys is an image unless `columns` asks for columns. */
  snapshot(mode: "full" | "delta", columns = false): StateSnapshot<K, S> {
    const changes = this.changes;
    if (mode === "delta" && !changes) {
      throw new Error(
        `internal error: a delta of state store ${this.operatorId}/${this.partition}, which keeps no changes`,
      );
    }
    const keys: K[] = [];
    const states: S[] = [];
    const updatedAt: number[] | undefined = this.byTime ? [] : undefined;
    const removed: K[] = [];
    const add = (kb: Uint8Array, value: Uint8Array) => {
      const e = this.decodeEntry(kb, value);
      keys.push(e.key);
      states.push(e.state);
      updatedAt?.push(e.updatedAt);
    };
    if (mode === "full" && !columns && this.count >= IMAGE_MIN_KEYS) {
      // A copy of the database file, taken between batches (no write transaction is open: every write of this
      // store is synchronous): restoring it is writing a file, not inserting every key again.
      const image = readFileSync(this.file);
      if (changes) this.root.transactionSync(() => changes.clearSync());
      return {
        mode,
        version: this.version ?? 0,
        keys,
        states,
        removed,
        image: { format: IMAGE_FORMAT, bytes: image },
      };
    }
    if (mode === "full") {
      for (const { key, value } of this.main.getRange({})) add(key, value);
    } else {
      for (const { key: kb, value: removedKey } of changes!.getRange({})) {
        const value = this.main.getBinaryFast(kb);
        if (value !== undefined) add(kb, value);
        else removed.push((keyInValue(kb) ? this.env.decode(removedKey) : keyFromBytes(kb)) as K);
      }
    }
    if (changes) this.root.transactionSync(() => changes.clearSync());
    const snap: StateSnapshot<K, S> = { mode, version: this.version ?? 0, keys, states, removed };
    if (updatedAt) snap.updatedAt = updatedAt;
    return snap;
  }

  restore(snapshots: StateSnapshot<K, S>[], version: number): void {
    this.pending = new KeyMap();
    this.forgetLastRead();
    let from = 0;
    for (let n = snapshots.length - 1; n >= 0; n--) {
      if (snapshots[n]!.image) {
        from = n;
        break;
      }
    }
    const image = snapshots[from]?.image;
    if (image) {
      if (image.format !== IMAGE_FORMAT) {
        throw new Error(`internal error: a state image of format ${image.format}, not ${IMAGE_FORMAT}`);
      }
      this.openImage(image.bytes);
      this.applyColumnar(snapshots.slice(from + 1), version, false);
    } else this.applyColumnar(snapshots, version, true);
    this.version = version;
  }

  /** Applies full snapshots and deltas in columns, in one write transaction, after clearing (with `clearFirst`). */
  private applyColumnar(snapshots: StateSnapshot<K, S>[], version: number, clearFirst: boolean): void {
    const { main, byTime, changes } = this;
    const clear = () => {
      main.clearSync();
      byTime?.clearSync();
    };
    this.root.transactionSync(() => {
      if (clearFirst) {
        clear();
        changes?.clearSync();
      }
      for (const snap of snapshots) {
        if (snap.mode === "full") clear();
        for (const k of snap.removed) {
          const kb = keyBytes(k);
          const old = main.getBinaryFast(kb);
          if (old === undefined) continue;
          if (byTime) byTime.removeSync(timeKey(old.readDoubleBE(0), kb));
          main.removeSync(kb);
        }
        const { keys, states } = snap;
        for (let n = 0; n < keys.length; n++) {
          const key = keys[n]!;
          const kb = keyBytes(key);
          const t = snap.updatedAt?.[n] ?? version;
          if (byTime) {
            const old = main.getBinaryFast(kb);
            if (old !== undefined) byTime.removeSync(timeKey(old.readDoubleBE(0), kb));
            byTime.putSync(timeKey(t, kb), EMPTY);
          }
          main.putSync(kb, this.encodeEntry(kb, { key, state: states[n]!, updatedAt: t }));
        }
      }
    });
    this.count = (main.getStats() as { entryCount: number }).entryCount;
  }

  /** Closes the database and deletes its files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
    removeFiles(this.file);
  }
}

function removeFiles(file: string): void {
  rmSync(file, { force: true, recursive: true });
  rmSync(`${file}-lock`, { force: true });
}

/** Opens {@link LmdbStateStore}s, one LMDB file per partition of each stateful operator, in the working folder. */
export class LmdbStateStoreProvider implements StateStoreProvider {
  private readonly open = new Map<string, LmdbStateStore<any, any>>();
  trackChanges = true;

  constructor(private readonly env: LmdbBackendEnv) {}

  getStore<K, S>(operatorId: string, partition: number, options?: StateStoreOptions): StateStore<K, S> {
    const name = `${operatorId}/${partition}`;
    let store = this.open.get(name);
    if (!store) {
      const file = path.join(this.env.dir(), `${encodeURIComponent(operatorId)}-${partition}.mdb`);
      store = new LmdbStateStore<K, S>(operatorId, partition, file, this.env, {
        trackChanges: this.trackChanges,
        ...options,
      });
      this.open.set(name, store);
    }
    return store as StateStore<K, S>;
  }

  stores(): Iterable<StateStore<any, any>> {
    return this.open.values();
  }

  commitAll(version: number): StateChanges[] {
    const byOperator = new Map<
      string,
      { operatorId: string; written: number; removed: number; keys: number }
    >();
    for (const store of this.open.values()) {
      store.commit(version);
      let c = byOperator.get(store.operatorId);
      if (!c) {
        c = { operatorId: store.operatorId, written: 0, removed: 0, keys: 0 };
        byOperator.set(store.operatorId, c);
      }
      c.written += store.lastCommit.written;
      c.removed += store.lastCommit.removed;
      c.keys += store.size;
    }
    return [...byOperator.values()];
  }

  abortAll(): void {
    for (const store of this.open.values()) store.abort();
  }

  commit(operatorId: string, partition: number, version: number): StateChanges | undefined {
    const store = this.open.get(`${operatorId}/${partition}`);
    if (!store) return undefined;
    store.commit(version);
    return {
      operatorId,
      written: store.lastCommit.written,
      removed: store.lastCommit.removed,
      keys: store.size,
    };
  }

  abort(operatorId: string, partition: number): void {
    this.open.get(`${operatorId}/${partition}`)?.abort();
  }

  async close(): Promise<void> {
    const stores = [...this.open.values()];
    this.open.clear();
    for (const store of stores) await store.close();
  }
}

/**
 * State in LMDB files (`spate.state.backend` `lmdb`), outside the JS heap: for state larger than the heap (or than
 * about 16 million keys per partition). Costs an encode and a decode per key written and read.
 */
export const lmdbStateBackend: StateBackend = {
  name: "lmdb",
  createProvider: (env) => new LmdbStateStoreProvider(env),
};

/**
 * A chain of snapshots (a full one, then deltas) whose full snapshot may be an image of the lmdb backend, with the
 * image turned into columns (read through a temporary store): for restoring into a store of another backend, or
 * redistributing keys to another partition count. States come back decoded (`options.codec` included).
 */
export function expandImages<K, S>(
  snapshots: StateSnapshot<K, S>[],
  env: Pick<StateBackendEnv, "encode" | "decode">,
  options: StateStoreOptions,
): StateSnapshot<K, S>[] {
  let from = -1;
  for (let n = snapshots.length - 1; n >= 0 && from < 0; n--) if (snapshots[n]!.image) from = n;
  if (from < 0) return snapshots;
  const dir = mkdtempSync(path.join(tmpdir(), "spate-state-image-"));
  const store = new LmdbStateStore<K, S>(
    "image",
    0,
    path.join(dir, "image.mdb"),
    { ...env, dir: () => dir },
    {
      ...options,
      trackChanges: false,
    },
  );
  const image = snapshots[from]!;
  store.restore([image], image.version);
  const full = store.snapshot("full", true);
  void store.close().finally(() => rmSync(dir, { recursive: true, force: true }));
  return [full, ...snapshots.slice(from + 1)];
}
