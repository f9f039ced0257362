import { KeyMap } from "../rdd/keys.js";
import { checkStateSize, HEAP_CHECK_INTERVAL } from "./heapGuard.js";
import { IndexBits } from "./IndexBits.js";

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
 * version, writes, and then commits a new version or aborts back to the previous one. The plug-in point of state
 * backends ({@link StateBackend}): what every backend does well (read, write, remove and iterate keys, find keys
 * idle since a time, commit or abort a batch, snapshot and restore for data checkpoints), plus handle lookups
 * (`lookup`, `stateAt`) that a store in memory may offer as a fast path. Keys compare as spate keys do (strings,
 * numbers, bigints and booleans by value, arrays, plain objects and instances of registered classes by content).
 * A store belongs to one thread and is called synchronously by one batch at a time.
 */
export interface StateStore<K, S> {
  /** The stateful operator whose state this is. */
  readonly operatorId: string;
  /** The partition of that operator's state this store holds. */
  readonly partition: number;
  /** The batch time of the last committed version, or undefined before the first commit. */
  readonly version: number | undefined;
  /** Number of keys in the current view (committed plus this batch's writes). */
  readonly size: number;
  /** Keys written (still existing) and removed by the batch last committed, where the store counts them. */
  readonly lastCommit?: { readonly written: number; readonly removed: number };
  /**
   * The key's state and update time in the current view. A store that keeps states outside the heap returns a
   * fresh copy on each read: a state changed in place must be `put` back to count.
   */
  get(key: K): StateValue<S> | undefined;
  /**
   * Optional fast path (the memory store's): a handle to the key's entry, valid until the next write to the store
   * other than `put` on it; -1: absent. Operators use it, with `stateAt`, when the store has both.
   */
  lookup?(key: K): number;
  /** The state of the entry `handle` points to (with `lookup`). */
  stateAt?(handle: number): S;
  /**
   * Sets `key`'s state, last updated at batch time `updatedAt`. `handle`, when given, must be what `lookup(key)`
   * returned in this batch with no write to the store since but `put`s on that key: it saves a second lookup.
   */
  put(key: K, state: S, updatedAt: number, handle?: number): void;
  /** Removes a key's state. */
  remove(key: K): void;
  /** Calls `fn` for every entry of the current view; `fn` may put or remove the key it is given, not others. */
  forEach(fn: (state: S, key: K, updatedAt: number) => void): void;
  /** Every entry of the current view (allocates one object per entry: for inspection, not hot paths). */
  entries(): IterableIterator<StateEntry<K, S>>;
  /**
   * Entries last updated strictly before `time`, as of the last commit (entries the running batch wrote are left
   * out), in O(result), never a scan of every key; only for stores opened with `indexByTime`.
   */
  updatedBefore(time: number): StateEntry<K, S>[];
  /** Whether this batch wrote anything not yet committed. */
  readonly dirty: boolean;
  /**
   * Calls `fn` for every entry the running batch put and did not remove (each once), before it commits; with
   * `objectsOnly`, it may skip those whose key and state are both primitives.
   */
  forEachWritten(fn: (state: S, key: K) => void, objectsOnly?: boolean): void;
  /** Makes the batch's writes the store's state at `version` (a batch time). */
  commit(version: number): void;
  /** Undoes the batch's writes, back to the last committed version. */
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
  /** A full snapshot (every entry) or a delta (entries put and keys removed since the previous snapshot). */
  mode: "full" | "delta";
  /** The batch time of the store's version when it was taken. */
  version: number;
  /** The keys of the entries, in the order of `states`. */
  keys: K[];
  /** The state of each key. */
  states: S[];
  /** The update time of each entry; only for stores with `indexByTime`. */
  updatedAt?: number[];
  /** Keys removed since the previous snapshot (deltas only). */
  removed: K[];
  /**
   * A full snapshot as an image of the store's own files, in `format` (`keys` and `states` are then empty): what a
   * store whose full snapshot is a file copy writes, so that restoring it is writing a file back. A store of another
   * kind is restored from it through the backend that wrote it (spate's own: `lmdb-1`, the lmdb backend's).
   */
  image?: { format: string; bytes: Uint8Array };
}

/** How a stateful operator opens the store of one of its partitions. */
export interface StateStoreOptions {
  /** Keep an index by update time, so that timeouts are found without a scan. */
  indexByTime?: boolean;
  /**
   * Keep what changed since the last snapshot, for delta snapshots (default true). Off when nothing is
   * checkpointed: no snapshot would ever take and reset that list, so it would grow with every key ever written.
   */
  trackChanges?: boolean;
  /**
   * The operator's own state codec (`StateSpec.codec`, `updateStateByKey`'s codec), if any: a store that encodes
   * states (outside the heap) stores `codec.encode(state)` and reads back through `codec.decode`.
   */
  codec?: {
    /** The value to store for a state. */
    encode(state: any): unknown;
    /** The state back from what `encode` returned. */
    decode(value: unknown): any;
  };
}

/** What one batch changed in one stateful operator's state (every partition). */
export interface StateChanges {
  /** The operator's id. */
  readonly operatorId: string;
  /** Keys written (created or updated) that still exist after the batch. */
  readonly written: number;
  /** Keys that existed before the batch and not after it. */
  readonly removed: number;
  /** Keys held after the batch. */
  readonly keys: number;
}

/**
 * Opens the stores of stateful operators, and commits or aborts all of them at the end of a batch (batch
 * atomicity).
 */
export interface StateStoreProvider {
  /** Whether stores opened from now on keep what changed for delta snapshots (set when the context starts). */
  trackChanges: boolean;
  /** The store of one partition of one stateful operator, created on first use. */
  getStore<K, S>(operatorId: string, partition: number, options?: StateStoreOptions): StateStore<K, S>;
  /** Every store opened so far. */
  stores(): Iterable<StateStore<any, any>>;
  /** Commits every store at `version`; returns what the batch changed, per operator. */
  commitAll(version: number): StateChanges[];
  /** Aborts every store back to its last committed version. */
  abortAll(): void;
  /**
   * Commits one partition of one operator at `version` (partitions are committed on their own where they live);
   * returns what the batch changed there, or undefined when that store was never opened.
   */
  commit(operatorId: string, partition: number, version: number): StateChanges | undefined;
  /** Aborts one partition of one operator back to its last committed version. */
  abort(operatorId: string, partition: number): void;
  /** Releases what the stores hold (files, handles) when the context stops; the stores are not used after. */
  close?(): void | Promise<void>;
}

/**
 * What a {@link StateBackend} gets from the context that uses it: where to keep its files, and the encoding of
 * keys and states that checkpoints use (instances of the job's registered classes keep their class).
 */
export interface StateBackendEnv {
  /**
   * The working folder of local stores: a fresh folder under `spate.state.dir` (else under the system's temporary
   * folder), made on first call and removed when the context stops. State is restored from checkpoints, never
   * from this folder: a store may clear what it finds there.
   */
  dir(): string;
  /** Encodes a key or state (registered classes included) as checkpoint files do. */
  encode(value: unknown): Uint8Array;
  /** Decodes what `encode` returned. */
  decode(bytes: Uint8Array): unknown;
}

/**
 * Where the state of stateful operators lives (`spate.state.backend`, or the `stateBackend` option of a
 * StreamingContext for one of your own): it opens one {@link StateStoreProvider} per context. spate has
 * `memoryStateBackend` (the default: state in the JS heap) and `lmdbStateBackend` (state in LMDB files, outside the
 * heap). A backend of your own can be checked with `checkStateBackend` from `spate/testing`.
 */
export interface StateBackend {
  /** Its name, for logs. */
  readonly name: string;
  /** Opens the provider of one context's state stores. */
  createProvider(env: StateBackendEnv): StateStoreProvider;
}

const INITIAL_CAPACITY = 16;

/**
 * A store in memory, in columns: a map from key to an index, and the keys, states, the batch epoch of each entry's
 * last write and (with timeouts) its update time in arrays at that index. Reading or updating a key costs one map
 * lookup and no allocation; the first write of each key in a batch saves its previous state in an undo log, so
 * commit costs O(1) per changed entry, with no map lookup, and abort restores the previous version exactly. Per
 * key it holds one map entry and three or four array slots: about 1.5 times a plain Map of the same entries.
 * Timeouts use buckets of keys by update time, validated lazily, so finding idle keys never scans the store.
 * The index has no size limit but the heap's (KeyMap): every HEAP_CHECK_INTERVAL new keys, the store fails its batch
 * with SPATE_STATE_TOO_LARGE if the heap has no room left for it to grow (heapGuard.ts).
 */
export class MemoryStateStore<K, S> implements StateStore<K, S> {
  private readonly index = new KeyMap<K, number>();
  /** The key at each index; undefined for a free index. */
  private keys: Array<K | undefined> = [];
  private states: S[] = [];
  /**
   * The store epoch of each entry's last write (negated when the write removed it): whether this batch already
   * saved it to the undo log, and whether it changed since the last snapshot.
   */
  private epochs = new Int32Array(INITIAL_CAPACITY);
  private times: Float64Array | undefined;
  private capacity = INITIAL_CAPACITY;
  private used = 0;
  private free: number[] = [];
  /** Indices of keys removed by the running batch: freed at commit, put back by abort. */
  private removedIdx: number[] = [];
  // The undo log of the running batch: the index, whether it held the key before, and its previous content.
  private undoIdx: number[] = [];
  private undoStates: S[] = [];
  private undoEpochs: number[] = [];
  /** Only in stores with timeouts. */
  private undoTimes: number[] = [];
  /** Indices of the entries the running batch created. */
  private createdIdx: number[] = [];
  /** Incremented by every commit and abort; entries written in the running batch carry it. */
  private epoch = 1;
  /** The first epoch of the current snapshot period: entries last written at or after it changed since. */
  private periodStart = 1;
  /** Indices written since the last snapshot (what a delta writes; may repeat). */
  private changedIdx: number[] = [];
  private changedDeleted = new KeyMap<K, true>();
  /** Keys by the update time they had when they were written; a key may sit in old buckets too (stale). */
  private readonly byTime: Map<number, K[]> | undefined;
  private readonly trackChanges: boolean;
  /** Keys written and removed by the batch last committed. */
  lastCommit = { written: 0, removed: 0 };
  /** Buckets strictly older than this were drained by this batch's timeouts: dropped at commit. */
  private drainedBefore: number | undefined;
  /** New keys to add before the next look at the heap (heapGuard.ts). */
  private untilSizeCheck = HEAP_CHECK_INTERVAL;
  version: number | undefined = undefined;

  constructor(
    readonly operatorId: string,
    readonly partition: number,
    options: StateStoreOptions = {},
  ) {
    this.trackChanges = options.trackChanges ?? true;
    if (options.indexByTime) {
      this.byTime = new Map();
      this.times = new Float64Array(INITIAL_CAPACITY);
    }
  }

  get size(): number {
    return this.index.size;
  }

  get dirty(): boolean {
    return this.undoIdx.length > 0 || this.createdIdx.length > 0;
  }

  get(key: K): StateValue<S> | undefined {
    const i = this.index.get(key);
    if (i === undefined) return undefined;
    return { state: this.states[i]!, updatedAt: this.times?.[i] ?? 0 };
  }

  lookup(key: K): number {
    return this.index.get(key) ?? -1;
  }

  stateAt(handle: number): S {
    return this.states[handle]!;
  }

  put(key: K, state: S, updatedAt: number, handle?: number): void {
    const i = handle === undefined ? (this.index.get(key) ?? -1) : handle;
    if (i < 0) {
      if (--this.untilSizeCheck === 0) this.checkSize(1);
      const fresh = this.allocate();
      this.index.set(key, fresh);
      this.keys[fresh] = key;
      this.states[fresh] = state;
      this.epochs[fresh] = this.epoch;
      this.createdIdx.push(fresh);
      if (this.times) {
        this.times[fresh] = updatedAt;
        this.bucket(key, updatedAt);
      }
      return;
    }
    if (this.epochs[i] !== this.epoch) this.firstWrite(i);
    this.states[i] = state;
    if (this.times && this.times[i] !== updatedAt) {
      this.times[i] = updatedAt;
      this.bucket(key, updatedAt);
    }
  }

  remove(key: K): void {
    const i = this.index.get(key);
    if (i === undefined) return;
    if (this.epochs[i] !== this.epoch) this.firstWrite(i);
    this.epochs[i] = -this.epoch;
    this.index.delete(key);
    this.removedIdx.push(i);
  }

  /**
   * Fails the batch with SPATE_STATE_TOO_LARGE, before `adding` new keys, if the heap has no room left for them
   * to grow: checked every HEAP_CHECK_INTERVAL new keys, so that the store never runs the process out of memory.
   */
  private checkSize(adding: number): void {
    this.untilSizeCheck = HEAP_CHECK_INTERVAL;
    checkStateSize(this.operatorId, this.partition, this.index.size + adding);
  }

  /** The first write of a committed entry in this batch: log its previous content, note it as changed. */
  private firstWrite(i: number): void {
    const previous = this.epochs[i]!;
    this.undoIdx.push(i);
    this.undoStates.push(this.states[i]!);
    this.undoEpochs.push(previous);
    if (this.times) this.undoTimes.push(this.times[i]!);
    if (this.trackChanges && previous < this.periodStart) this.changedIdx.push(i);
    this.epochs[i] = this.epoch;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) this.reserve(this.capacity * 2);
    return this.used++;
  }

  /** Grows the columns to hold at least `n` entries. */
  private reserve(n: number): void {
    if (n <= this.capacity) return;
    let capacity = this.capacity;
    while (capacity < n) capacity *= 2;
    const epochs = new Int32Array(capacity);
    epochs.set(this.epochs);
    this.epochs = epochs;
    if (this.times) {
      const times = new Float64Array(capacity);
      times.set(this.times);
      this.times = times;
    }
    this.capacity = capacity;
  }

  forEach(fn: (state: S, key: K, updatedAt: number) => void): void {
    const { states, times } = this;
    this.index.forEach((i, key) => {
      fn(states[i]!, key, times ? times[i]! : 0);
    });
  }

  forEachWritten(fn: (state: S, key: K) => void, objectsOnly = false): void {
    const { epochs, epoch, keys, states } = this;
    // An entry written by this batch carries its epoch (negated if removed); created and updated ones are disjoint.
    for (const list of [this.createdIdx, this.undoIdx]) {
      for (let n = 0; n < list.length; n++) {
        const i = list[n]!;
        if (epochs[i] !== epoch) continue;
        const state = states[i]!;
        const key = keys[i] as K;
        if (objectsOnly) {
          // Inline, so that primitive entries cost no call.
          const t = typeof state;
          if (t !== "object" && t !== "function" && t !== "symbol" && typeof key !== "object") continue;
        }
        fn(state, key);
      }
    }
  }

  *entries(): IterableIterator<StateEntry<K, S>> {
    for (const [key, i] of this.index.entries()) {
      yield { key, state: this.states[i]!, updatedAt: this.times?.[i] ?? 0 };
    }
  }

  updatedBefore(time: number): StateEntry<K, S>[] {
    const times = this.times;
    if (!this.byTime || !times) {
      throw new Error(`state store ${this.operatorId}/${this.partition} has no time index`);
    }
    const out: StateEntry<K, S>[] = [];
    // A key written, aborted and written again at the same time sits twice in its bucket.
    let found: IndexBits | undefined;
    for (const [t, bucket] of this.byTime) {
      if (t >= time) continue;
      for (const key of bucket) {
        const i = this.index.get(key);
        // Stale: the key was updated again or removed since. Written in this batch: not "as of the last commit".
        if (i === undefined || times[i] !== t || this.epochs[i] === this.epoch) continue;
        found ??= new IndexBits(this.used);
        if (!found.add(i)) continue;
        out.push({ key, state: this.states[i]!, updatedAt: t });
      }
    }
    this.drainedBefore = Math.max(this.drainedBefore ?? time, time);
    return out;
  }

  commit(version: number): void {
    const { undoIdx, createdIdx, epochs, epoch } = this;
    // What the batch changed, for the UI's batch page: an entry still alive carries this batch's epoch.
    let written = 0;
    let removed = 0;
    for (let n = 0; n < undoIdx.length; n++) {
      if (epochs[undoIdx[n]!] === epoch) written++;
      else removed++;
    }
    for (let n = 0; n < createdIdx.length; n++) if (epochs[createdIdx[n]!] === epoch) written++;
    this.lastCommit = { written, removed };
    if (this.trackChanges) {
      // An entry still alive carries this batch's epoch; a removed one its negation.
      for (let n = 0; n < undoIdx.length; n++) {
        const i = undoIdx[n]!;
        if (epochs[i] !== epoch) this.changedDeleted.set(this.keys[i] as K, true);
      }
      for (let n = 0; n < createdIdx.length; n++) {
        const i = createdIdx[n]!;
        if (epochs[i] !== epoch) this.changedDeleted.set(this.keys[i] as K, true);
        else this.changedIdx.push(i);
      }
    }
    for (const i of this.removedIdx) this.release(i);
    this.clearUndo();
    if (this.drainedBefore !== undefined && this.byTime) {
      // Every key of these buckets was stale or timed out (and removed) by the batch just committed.
      for (const t of this.byTime.keys()) if (t < this.drainedBefore) this.byTime.delete(t);
    }
    this.drainedBefore = undefined;
    this.epoch++;
    this.version = version;
  }

  abort(): void {
    // Created entries are dropped first; a key removed and created again then gets its old entry back below.
    for (const i of this.createdIdx) {
      const key = this.keys[i] as K;
      if (this.index.get(key) === i) this.index.delete(key);
      this.release(i);
    }
    for (let n = this.undoIdx.length - 1; n >= 0; n--) {
      const i = this.undoIdx[n]!;
      const key = this.keys[i] as K;
      this.states[i] = this.undoStates[n]!;
      if (this.times) this.times[i] = this.undoTimes[n]!;
      // Its previous epoch says again whether it changed since the last snapshot (a delta skips it if not).
      this.epochs[i] = this.undoEpochs[n]!;
      this.index.set(key, i);
      // Its bucket still lists the key: buckets are only dropped at commit.
    }
    this.clearUndo();
    this.drainedBefore = undefined;
    this.epoch++;
  }

  private release(i: number): void {
    this.keys[i] = undefined;
    this.states[i] = undefined as S;
    this.epochs[i] = 0;
    this.free.push(i);
  }

  private clearUndo(): void {
    if (this.undoIdx.length === 0 && this.createdIdx.length === 0 && this.removedIdx.length === 0) return;
    this.undoIdx = [];
    this.undoStates = [];
    this.undoEpochs = [];
    this.undoTimes = [];
    this.createdIdx = [];
    this.removedIdx = [];
  }

  snapshot(mode: "full" | "delta"): StateSnapshot<K, S> {
    if (mode === "delta" && !this.trackChanges) {
      throw new Error(
        `internal error: a delta of state store ${this.operatorId}/${this.partition}, which keeps no changes`,
      );
    }
    const out: K[] = [];
    const states: S[] = [];
    const times = this.times;
    const updatedAt: number[] | undefined = times ? [] : undefined;
    const removed: K[] = [];
    const add = (i: number) => {
      out.push(this.keys[i] as K);
      states.push(this.states[i]!);
      updatedAt?.push(times![i]!);
    };
    if (mode === "full") this.index.forEach(add);
    else {
      const { epochs, keys, periodStart } = this;
      if (this.changedIdx.length * 4 > this.used) {
        // Much changed: one pass over the columns beats deduplicating the list.
        for (let i = 0; i < this.used; i++) if (keys[i] !== undefined && epochs[i]! >= periodStart) add(i);
      } else {
        // An index can be listed twice (written, aborted, written again; or freed and reused): write it once.
        const seen = new IndexBits(this.used);
        for (const i of this.changedIdx) {
          if (keys[i] === undefined || epochs[i]! < periodStart || !seen.add(i)) continue;
          add(i);
        }
      }
      this.changedDeleted.forEach((_t, key) => {
        if (!this.index.has(key)) removed.push(key);
      });
    }
    this.changedIdx = [];
    this.changedDeleted = new KeyMap();
    this.periodStart = this.epoch;
    const snap: StateSnapshot<K, S> = { mode, version: this.version ?? 0, keys: out, states, removed };
    if (updatedAt) snap.updatedAt = updatedAt;
    return snap;
  }

  restore(snapshots: StateSnapshot<K, S>[], version: number): void {
    const index = this.index;
    const reset = () => {
      index.clear();
      this.keys = [];
      this.states = [];
      this.free = [];
      this.used = 0;
    };
    reset();
    this.capacity = INITIAL_CAPACITY;
    this.epochs = new Int32Array(INITIAL_CAPACITY);
    if (this.times) this.times = new Float64Array(INITIAL_CAPACITY);
    this.byTime?.clear();
    this.clearUndo();
    this.changedIdx = [];
    this.changedDeleted = new KeyMap();
    this.drainedBefore = undefined;
    this.epoch++;
    this.periodStart = this.epoch;
    let needed = 0;
    for (const snap of snapshots) needed += snap.keys.length;
    this.reserve(needed);
    for (const snap of snapshots) {
      if (snap.mode === "full") reset();
      for (const k of snap.removed) {
        const i = index.get(k);
        if (i === undefined) continue;
        index.delete(k);
        this.release(i);
      }
      const { keys, states, updatedAt } = snap;
      const times = this.times;
      for (let n = 0; n < keys.length; n++) {
        const key = keys[n]!;
        let i = index.get(key);
        if (i === undefined) {
          if (--this.untilSizeCheck === 0) this.checkSize(1);
          i = this.allocate();
          index.set(key, i);
          this.keys[i] = key;
        }
        this.states[i] = states[n]!;
        this.epochs[i] = 0;
        if (times) times[i] = updatedAt?.[n] ?? version;
      }
    }
    const times = this.times;
    const byTime = this.byTime;
    if (byTime && times) {
      // Buckets in time order, as a running store has them.
      const buckets = new Map<number, K[]>();
      index.forEach((i, key) => {
        const bucket = buckets.get(times[i]!);
        if (bucket) bucket.push(key);
        else buckets.set(times[i]!, [key]);
      });
      for (const t of [...buckets.keys()].sort((a, b) => a - b)) byTime.set(t, buckets.get(t)!);
    }
    this.version = version;
  }

  private bucket(key: K, time: number): void {
    const bucket = this.byTime!.get(time);
    if (bucket) bucket.push(key);
    else this.byTime!.set(time, [key]);
  }
}

/** Opens {@link MemoryStateStore}s. */
export class MemoryStateStoreProvider implements StateStoreProvider {
  private readonly open = new Map<string, StateStore<any, any>>();
  /** Whether stores keep what changed for delta snapshots: only when state is checkpointed. */
  trackChanges = true;

  getStore<K, S>(operatorId: string, partition: number, options?: StateStoreOptions): StateStore<K, S> {
    const name = `${operatorId}/${partition}`;
    let store = this.open.get(name);
    if (!store) {
      store = new MemoryStateStore<K, S>(operatorId, partition, {
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
      const last = store.lastCommit;
      c.written += last?.written ?? 0;
      c.removed += last?.removed ?? 0;
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
      written: store.lastCommit?.written ?? 0,
      removed: store.lastCommit?.removed ?? 0,
      keys: store.size,
    };
  }

  abort(operatorId: string, partition: number): void {
    this.open.get(`${operatorId}/${partition}`)?.abort();
  }
}

/** State in the JS heap, in stores in memory: the default backend (`spate.state.backend` `memory`). */
export const memoryStateBackend: StateBackend = {
  name: "memory",
  createProvider: () => new MemoryStateStoreProvider(),
};
