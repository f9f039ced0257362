import { KeyMap } from "../rdd/keys.js";

/** One key's state in a store, with the batch time it was last updated (for timeouts). */
export interface StateEntry<K, S> {
  readonly key: K;
  readonly state: S;
  readonly updatedAt: number;
}

/** A key's current value in a store, as `get` returns it: valid until the next write to that key. */
export interface StateValue<S> {
  readonly state: S;
  /** The batch time of its last update (0 in stores opened without `indexByTime`). */
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
  get(key: K): StateValue<S> | undefined;
  /**
   * Sets `key`'s state. `current`, when given, must be what `get(key)` returned in this batch with no write to
   * the key since: it saves a second lookup on the hot path.
   */
  put(key: K, state: S, updatedAt: number, current?: StateValue<S>): void;
  remove(key: K): void;
  /** Calls `fn` for every entry of the current view; `fn` may put or remove the key it is given, not others. */
  forEach(fn: (state: S, key: K, updatedAt: number) => void): void;
  /** Every entry of the current view (allocates one object per entry: for inspection, not hot paths). */
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

/**
 * A data checkpoint of one store, in columns (so that a million entries decode as three arrays, not a million
 * small ones): every entry (full) or every entry put since the previous snapshot (delta), plus the keys removed
 * since then (delta only).
 */
export interface StateSnapshot<K, S> {
  mode: "full" | "delta";
  version: number;
  keys: K[];
  states: S[];
  /** The update time of each entry; only for stores with `indexByTime`. */
  updatedAt?: number[];
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

/**
 * What the store holds per key: mutable, so that updating a key that exists costs one map lookup and no
 * allocation. `epoch` says in which batch the entry was last saved to the undo log, `mark` in which snapshot
 * period it was last recorded as changed, so neither needs a map lookup.
 */
class Slot<S> implements StateValue<S> {
  constructor(
    public state: S,
    public updatedAt: number,
    public epoch: number,
    public mark: number,
  ) {}
}

/**
 * A store in memory. A key's slot is updated in place; the first write of each key in a batch saves the previous
 * state in an undo log, so reads cost one lookup, a write to an existing key none more, commit costs O(1) per
 * changed key, and abort restores the previous version exactly. Timeouts use buckets of keys by update time,
 * validated lazily, so finding idle keys never scans the store.
 */
export class MemoryStateStore<K, S> implements StateStore<K, S> {
  private readonly live = new KeyMap<K, Slot<S>>();
  // The undo log of the running batch: the key, its slot (undefined: it did not exist), and the slot's previous
  // content.
  private undoKeys: K[] = [];
  private undoSlots: Array<Slot<S> | undefined> = [];
  private undoStates: S[] = [];
  private undoTimes: number[] = [];
  private epoch = 1;
  /** Keys changed by commits since the last snapshot (what a delta writes); `mark` stops duplicates. */
  private changed: K[] = [];
  private changedDeleted = new KeyMap<K, true>();
  private mark = 1;
  /** Keys by the update time they had when they were written; a key may sit in old buckets too (stale). */
  private readonly byTime: Map<number, K[]> | undefined;
  /** Buckets strictly older than this were drained by this batch's timeouts: dropped at commit. */
  private drainedBefore: number | undefined;
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
    return this.undoKeys.length > 0;
  }

  get(key: K): StateValue<S> | undefined {
    return this.live.get(key);
  }

  put(key: K, state: S, updatedAt: number, current?: StateValue<S>): void {
    const slot = (current as Slot<S> | undefined) ?? this.live.get(key);
    const time = this.byTime ? updatedAt : 0;
    if (slot === undefined) {
      const fresh = new Slot(state, time, this.epoch, 0);
      this.saveUndo(key, undefined);
      this.live.set(key, fresh);
      this.byTime && this.indexKey(key, time);
      return;
    }
    if (slot.epoch !== this.epoch) {
      slot.epoch = this.epoch;
      this.saveUndo(key, slot);
    }
    slot.state = state;
    if (this.byTime && slot.updatedAt !== time) {
      slot.updatedAt = time;
      this.indexKey(key, time);
    }
  }

  remove(key: K): void {
    const slot = this.live.get(key);
    if (!slot) return;
    if (slot.epoch !== this.epoch) {
      slot.epoch = this.epoch;
      this.saveUndo(key, slot);
    }
    this.live.delete(key);
  }

  private saveUndo(key: K, slot: Slot<S> | undefined): void {
    this.undoKeys.push(key);
    this.undoSlots.push(slot);
    this.undoStates.push(slot?.state as S);
    this.undoTimes.push(slot?.updatedAt ?? 0);
  }

  forEach(fn: (state: S, key: K, updatedAt: number) => void): void {
    this.live.forEach((slot, key) => {
      fn(slot.state, key, slot.updatedAt);
    });
  }

  *entries(): IterableIterator<StateEntry<K, S>> {
    for (const [key, slot] of this.live.entries())
      yield { key, state: slot.state, updatedAt: slot.updatedAt };
  }

  updatedBefore(time: number): StateEntry<K, S>[] {
    if (!this.byTime) throw new Error(`state store ${this.operatorId}/${this.partition} has no time index`);
    const out: StateEntry<K, S>[] = [];
    // A key written, aborted and written again at the same time sits twice in its bucket.
    const found = new Set<Slot<S>>();
    for (const [t, bucket] of this.byTime) {
      if (t >= time) continue;
      for (const key of bucket) {
        const slot = this.live.get(key);
        // Stale: the key was updated again or removed since. Written in this batch: not "as of the last commit".
        if (slot === undefined || slot.updatedAt !== t || slot.epoch === this.epoch || found.has(slot))
          continue;
        found.add(slot);
        out.push({ key, state: slot.state, updatedAt: t });
      }
    }
    this.drainedBefore = Math.max(this.drainedBefore ?? time, time);
    return out;
  }

  commit(version: number): void {
    const keys = this.undoKeys;
    if (keys.length > 0) {
      const mark = this.mark;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const slot = this.live.get(key);
        if (slot === undefined) this.changedDeleted.set(key, true);
        else if (slot.mark !== mark) {
          slot.mark = mark;
          this.changed.push(key);
        }
      }
      this.clearUndo();
    }
    if (this.drainedBefore !== undefined && this.byTime) {
      // Every key of these buckets was stale or timed out (and removed) by the batch just committed.
      for (const t of this.byTime.keys()) if (t < this.drainedBefore) this.byTime.delete(t);
    }
    this.drainedBefore = undefined;
    this.epoch++;
    this.version = version;
  }

  abort(): void {
    for (let i = this.undoKeys.length - 1; i >= 0; i--) {
      const key = this.undoKeys[i]!;
      const slot = this.undoSlots[i];
      if (slot === undefined) {
        this.live.delete(key);
        continue;
      }
      slot.state = this.undoStates[i]!;
      slot.updatedAt = this.undoTimes[i]!;
      this.live.set(key, slot);
      // Its bucket still lists the key: buckets are only dropped at commit.
    }
    this.clearUndo();
    this.drainedBefore = undefined;
    this.epoch++;
  }

  private clearUndo(): void {
    this.undoKeys = [];
    this.undoSlots = [];
    this.undoStates = [];
    this.undoTimes = [];
  }

  snapshot(mode: "full" | "delta"): StateSnapshot<K, S> {
    const keys: K[] = [];
    const states: S[] = [];
    const updatedAt: number[] | undefined = this.byTime ? [] : undefined;
    const removed: K[] = [];
    const add = (slot: Slot<S>, key: K) => {
      keys.push(key);
      states.push(slot.state);
      updatedAt?.push(slot.updatedAt);
    };
    if (mode === "full") this.live.forEach(add);
    else {
      for (const key of this.changed) {
        const slot = this.live.get(key);
        if (slot) add(slot, key);
      }
      this.changedDeleted.forEach((_t, key) => {
        if (!this.live.has(key)) removed.push(key);
      });
    }
    this.changed = [];
    this.changedDeleted = new KeyMap();
    this.mark++;
    const snap: StateSnapshot<K, S> = { mode, version: this.version ?? 0, keys, states, removed };
    if (updatedAt) snap.updatedAt = updatedAt;
    return snap;
  }

  restore(snapshots: StateSnapshot<K, S>[], version: number): void {
    const live = this.live;
    live.clear();
    this.byTime?.clear();
    this.clearUndo();
    this.changed = [];
    this.changedDeleted = new KeyMap();
    this.drainedBefore = undefined;
    this.epoch++;
    this.mark++;
    const byTime = this.byTime;
    for (const snap of snapshots) {
      if (snap.mode === "full") live.clear();
      for (const k of snap.removed) live.delete(k);
      const { keys, states, updatedAt } = snap;
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const t = byTime ? (updatedAt?.[i] ?? version) : 0;
        const slot = live.get(key);
        if (slot) {
          slot.state = states[i]!;
          slot.updatedAt = t;
        } else live.set(key, new Slot(states[i]!, t, 0, 0));
      }
    }
    if (byTime) {
      // Buckets in time order, as a running store has them.
      const buckets = new Map<number, K[]>();
      live.forEach((slot, key) => {
        const bucket = buckets.get(slot.updatedAt);
        if (bucket) bucket.push(key);
        else buckets.set(slot.updatedAt, [key]);
      });
      for (const t of [...buckets.keys()].sort((a, b) => a - b)) byTime.set(t, buckets.get(t)!);
    }
    this.version = version;
  }

  private indexKey(key: K, time: number): void {
    const bucket = this.byTime!.get(time);
    if (bucket) bucket.push(key);
    else this.byTime!.set(time, [key]);
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
