import type { Clock } from "../time.js";

interface Waiter {
  permits: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * A token bucket on the context's clock (Spark's receiver RateLimiter, after Guava's SmoothBursty): `rate`
 * tokens a second, at most one second of them saved up while idle, starting empty. `acquire(n)` resolves once n
 * tokens are there (at most a bucketful is needed, so a request larger than the bucket goes into debt and delays
 * the next ones instead of waiting forever); requests are served in order. No limit: every request resolves at
 * once.
 */
export class RateLimiter {
  private limit: number | undefined;
  private tokens = 0;
  private refilledAt: number;
  private readonly waiters: Waiter[] = [];
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    rate?: number,
  ) {
    this.limit = normalize(rate);
    this.refilledAt = clock.getTimeMillis();
  }

  /** Records per second now allowed; undefined: no limit. */
  get rate(): number | undefined {
    return this.limit;
  }

  /** Whether a request made now may skip the queue: no limit and nobody waiting. */
  get unlimited(): boolean {
    return this.limit === undefined && this.waiters.length === 0;
  }

  /** The largest request that keeps records flowing smoothly: a tenth of a second's worth, at least 1. */
  chunkSize(): number {
    return this.limit === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(this.limit / 10));
  }

  /** Changes the rate (undefined or <= 0: no limit); tokens already earned are kept, up to the new bucket. */
  setRate(rate: number | undefined): void {
    this.refill();
    this.limit = normalize(rate);
    if (this.limit !== undefined) this.tokens = Math.min(this.tokens, this.capacity());
    this.serve();
  }

  /** Resolves once `permits` tokens are taken, after every earlier request. */
  acquire(permits: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ permits, resolve, reject });
      if (this.waiters.length === 1) this.serve();
    });
  }

  /** Rejects every waiting request with `error` (the receiver stopped). */
  cancelAll(error: unknown): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }

  private capacity(): number {
    return Math.max(1, this.limit!);
  }

  private refill(): void {
    const now = this.clock.getTimeMillis();
    if (this.limit !== undefined && now > this.refilledAt) {
      this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.refilledAt) * this.limit) / 1000);
    }
    this.refilledAt = now;
  }

  private serve(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.refill();
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      if (this.limit === undefined) {
        this.waiters.shift();
        head.resolve();
        continue;
      }
      const needed = Math.min(head.permits, this.capacity());
      // A millionth of a token of slack absorbs floating-point error in the refill.
      if (this.tokens + 1e-6 >= needed) {
        this.tokens -= head.permits;
        this.waiters.shift();
        head.resolve();
        continue;
      }
      const wait = Math.max(1, Math.ceil(((needed - this.tokens) * 1000) / this.limit));
      this.cancelTimer = this.clock.schedule(this.clock.getTimeMillis() + wait, () => {
        this.cancelTimer = undefined;
        this.serve();
      });
      return;
    }
  }
}

function normalize(rate: number | undefined): number | undefined {
  return rate === undefined || !(rate > 0) || !Number.isFinite(rate) ? undefined : rate;
}
