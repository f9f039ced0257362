/**
 * A set of store indices below a bound, one bit each: no size limit but the bound (a `Set` of numbers stops at
 * 2^24 entries), one allocation of bound / 8 bytes, and no hashing.
 */
export class IndexBits {
  private readonly words: Uint32Array;

  constructor(bound: number) {
    this.words = new Uint32Array((bound + 31) >>> 5);
  }

  /** Adds index `i`; returns false if it was there already. */
  add(i: number): boolean {
    const w = i >>> 5;
    const bit = 1 << (i & 31);
    const word = this.words[w]!;
    if ((word & bit) !== 0) return false;
    this.words[w] = word | bit;
    return true;
  }
}
