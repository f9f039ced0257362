import { KeyMap } from "../rdd/keys.js";

/** One key's state in a store, with the batch time it was last updated (for timeouts). */
export interface StateEntry<K, S> {
  readonly key: K;
  readonly state: S;
  readonly updatedAt: number;
}

/**
 * The state of one partition of one stateful operator, versioned by batch time: a batch reads the previous
 * version, writes, and then commits a new version or aborts back to the previous one. Plug-in point for
 * larger-than-memory stores later.
 */
export interface StateStore<K, S> {
  readonly operatorId: string;
  readonly partition: number;
  /** The batch time of the last committed version, or undefined before the first commit. */
  readonly version: number | undefined;
  /** Number of keys in the current view (committed plus this batch's writes). */
  readonly size: number;
  get(key: K): StateEntry<K, S> | undefined;
  put(key: K, state: S, updatedAt: number): void;
  remove(key: K): void;
  /** Every entry of the current view. */
  entries(): IterableIterator<StateEntry<K, S>>;
  /**
   * Entries last updated strictly before `time`, as of the last commit, in O(result + distinct update times);
   * only for stores opened with `indexByTime`.
   */
  updatedBefore(time: number): StateEntry<K, S>[];
  /** Whether this batch wrote anything not yet committed. */
  readonly dirty: boolean;
  commit(version: number): void;
  abort(): void;
  /**
   * The committed state for a data checkpoint: every entry (`full`), or only what changed since the previous
   * snapshot (`delta`). Marks the store as checkpointed at its current version.
   */
  snapshot(mode: "full" | "delta"): StateSnapshot<K, S>;
  /** Replaces the store's content with a full snapshot followed by deltas, at `version`. */
  restore(snapshots: StateSnapshot<K, S>[], version: number): void;
}

/** A data checkpoint of one store: every entry, or the entries put and keys removed since the previous one. */
export interface StateSnapshot<K, S> {
  mode: "full" | "delta";
  version: number;
  /** `[key, state, updatedAt]` of every entry (full) or of every entry put since the previous snapshot (delta). */
  entries: Array<[K, S, number]>;
  /** Keys removed since the previous snapshot (delta only). */
  removed: K[];
}

export interface StateStoreOptions {
  /** Keep an index by update time, so that timeouts are found without a scan. */
  indexByTime?: boolean;
}

/**
 * Opens the stores of stateful operators, and commits or aborts all of them at the end of a batch (batch
 * atomicity).
 */
export interface StateStoreProvider {
  getStore<K, S>(operatorId: string, partition: number, options?: StateStoreOptions): StateStore<K, S>;
  /** Every store opened so far. */
  stores(): Iterable<StateStore<any, any>>;
  commitAll(version: number): void;
  abortAll(): void;
}

const ABSENT = null;

/**
 * A store in memory. Writes go straight to the live map and the first write of each key in a batch saves the
 * previous entry in an undo log, so reads cost one lookup, commit costs O(1) per changed key, and abort restores
 * the previous version exactly.
 */
export class MemoryStateStore<K, S> implements StateStore<K, S> {
  private readonly live = new KeyMap<K, StateEntry<K, S>>();
  private undo = new KeyMap<K, StateEntry<K, S> | typeof ABSENT>();
  private readonly byTime: Map<number, Set<StateEntry<K, S>>> | undefined;
  /** Keys changed by commits since the last snapshot: what a delta checkpoint writes. */
  private changed = new KeyMap<K, true>();
  version: number | undefined = undefined;

  constructor(
    readonly operatorId: string,
    readonly partition: number,
    options: StateStoreOptions = {},
  ) {
    this.byTime = options.indexByTime ? new Map() : undefined;
  }

  get size(): number {
    return this.live.size;
  }

  get dirty(): boolean {
    return this.undo.size > 0;
  }

  get(key: K): StateEntry<K, S> | undefined {
    return this.live.get(key);
  }

  put(key: K, state: S, updatedAt: number): void {
    const old = this.live.get(key);
    if (!this.undo.has(key)) this.undo.set(key, old ?? ABSENT);
    const entry: StateEntry<K, S> = { key, state, updatedAt };
    this.live.set(key, entry);
    if (this.byTime) {
      if (old) this.unindex(old);
      this.index(entry);
    }
  }

  remove(key: K): void {
    const old = this.live.get(key);
    if (!old) return;
    if (!this.undo.has(key)) this.undo.set(key, old);
    this.live.delete(key);
    if (this.byTime) this.unindex(old);
  }

  entries(): IterableIterator<StateEntry<K, S>> {
    return this.live.values();
  }

  updatedBefore(time: number): StateEntry<K, S>[] {
    if (!this.byTime) throw new Error(`state store ${this.operatorId}/${this.partition} has no time index`);
    const out: StateEntry<K, S>[] = [];
    for (const [t, bucket] of this.byTime) {
      if (t >= time) continue;
      for (const entry of bucket) {
        // Entries written in the current batch are not "as of the last commit": the caller skips them itself.
        if (!this.undo.has(entry.key)) out.push(entry);
      }
    }
    return out;
  }

  commit(version: number): void {
    if (this.undo.size > 0) {
      this.undo.forEach((_previous, key) => {
        this.changed.set(key, true);
      });
      this.undo = new KeyMap();
    }
    this.version = version;
  }

  snapshot(mode: "full" | "delta"): StateSnapshot<K, S> {
    const entries: Array<[K, S, number]> = [];
    const removed: K[] = [];
    if (mode === "full") {
      for (const e of this.live.values()) entries.push([e.key, e.state, e.updatedAt]);
    } else {
      this.changed.forEach((_t, key) => {
        const e = this.live.get(key);
        if (e) entries.push([e.key, e.state, e.updatedAt]);
        else removed.push(key);
      });
    }
    this.changed = new KeyMap();
    return { mode, version: this.version ?? 0, entries, removed };
  }

  restore(snapshots: StateSnapshot<K, S>[], version: number): void {
    this.live.clear();
    this.byTime?.clear();
    this.undo = new KeyMap();
    this.changed = new KeyMap();
    const ordered: Array<[K, S, number]> = [];
    const live = new KeyMap<K, [K, S, number]>();
    for (const snap of snapshots) {
      if (snap.mode === "full") live.clear();
      for (const k of snap.removed) live.delete(k);
      for (const e of snap.entries) live.set(e[0], e);
    }
    for (const e of live.values()) ordered.push(e);
    // The time index is iterated oldest first: rebuild it in update-time order.
    if (this.byTime) ordered.sort((a, b) => a[2] - b[2]);
    for (const [key, state, updatedAt] of ordered) {
      const entry: StateEntry<K, S> = { key, state, updatedAt };
      this.live.set(key, entry);
      if (this.byTime) this.index(entry);
    }
    this.version = version;
  }

  abort(): void {
    this.undo.forEach((previous, key) => {
      const current = this.live.get(key);
      if (current) {
        this.live.delete(key);
        if (this.byTime) this.unindex(current);
      }
      if (previous) {
        this.live.set(key, previous);
        if (this.byTime) this.index(previous);
      }
    });
    this.undo = new KeyMap();
  }

  private index(entry: StateEntry<K, S>): void {
    let bucket = this.byTime!.get(entry.updatedAt);
    if (!bucket) {
      bucket = new Set();
      this.byTime!.set(entry.updatedAt, bucket);
    }
    bucket.add(entry);
  }

  private unindex(entry: StateEntry<K, S>): void {
    const bucket = this.byTime!.get(entry.updatedAt);
    if (!bucket) return;
    bucket.delete(entry);
    if (bucket.size === 0) this.byTime!.delete(entry.updatedAt);
  }
}

/** Opens {@link MemoryStateStore}s. */
export class MemoryStateStoreProvider implements StateStoreProvider {
  private readonly open = new Map<string, StateStore<any, any>>();

  getStore<K, S>(operatorId: string, partition: number, options?: StateStoreOptions): StateStore<K, S> {
    const name = `${operatorId}/${partition}`;
    let store = this.open.get(name);
    if (!store) {
      store = new MemoryStateStore<K, S>(operatorId, partition, options);
      this.open.set(name, store);
    }
    return store as StateStore<K, S>;
  }

  stores(): Iterable<StateStore<any, any>> {
    return this.open.values();
  }

  commitAll(version: number): void {
    for (const store of this.open.values()) store.commit(version);
  }

  abortAll(): void {
    for (const store of this.open.values()) store.abort();
  }
}
