/**
 * What an input stream gave each batch, kept so that an empty batch costs nothing: only batches that got input
 * are listed, and `through` is the latest batch time allocated. A batch time at or before `through` that is not
 * listed was given nothing. Input streams record this in metadata checkpoints (`InputLog.save`), so its size grows
 * with the batches that had input, not with the batches that ran (a day of empty down-time batches adds nothing).
 *
 * Allocation happens once per batch time, in time order, when the batch is generated (or, for the batches of a down
 * time, when the restart generates them: the first takes what arrived, the others are given nothing at once by
 * {@link allocateEmptyThrough}). A re-run after a crash finds the same answer here, so it reads the same input.
 */
export class Allocations<A> {
  private readonly byTime = new Map<number, A>();
  private last: number | undefined;

  /** The latest batch time allocated, if any. */
  get through(): number | undefined {
    return this.last;
  }

  /** Whether the batch at `time` has been allocated (and so must not take new input). */
  has(time: number): boolean {
    return this.byTime.has(time) || (this.last !== undefined && time <= this.last);
  }

  /** The input given to the batch at `time`; undefined when it got none or was not allocated. */
  get(time: number): A | undefined {
    return this.byTime.get(time);
  }

  /** Records the allocation of the batch at `time`; `empty` ones are not listed. */
  set(time: number, allocation: A, empty: boolean): void {
    if (!empty) this.byTime.set(time, allocation);
    if (this.last === undefined || time > this.last) this.last = time;
  }

  /** Gives nothing to every batch up to `time` not yet allocated. */
  allocateEmptyThrough(time: number): void {
    if (this.last === undefined || time > this.last) this.last = time;
  }

  /** Forgets the batches before `keepFrom` (they are complete and no recovery reads them again). */
  prune(keepFrom: number): void {
    for (const t of this.byTime.keys()) if (t < keepFrom) this.byTime.delete(t);
  }

  /** The listed (non-empty) allocations. */
  entries(): IterableIterator<[number, A]> {
    return this.byTime.entries();
  }

  values(): IterableIterator<A> {
    return this.byTime.values();
  }

  /**
   * Restores saved allocations. `through` is absent in logs written by spate 0.1.0, which listed every batch, empty
   * ones too: the latest one listed is then the latest allocated.
   */
  restore(entries: Iterable<[number, A]>, isEmpty: (a: A) => boolean, through: number | undefined): void {
    this.byTime.clear();
    this.last = through;
    for (const [t, a] of entries) this.set(t, a, isEmpty(a));
  }

  clear(): void {
    this.byTime.clear();
    this.last = undefined;
  }
}
