import { InvalidDurationError } from "./errors.js";

/** A duration of `n` milliseconds. */
export function Milliseconds(n: number): number {
  return n;
}
/** A duration of `n` seconds, in milliseconds. */
export function Seconds(n: number): number {
  return n * 1000;
}
/** A duration of `n` minutes, in milliseconds. */
export function Minutes(n: number): number {
  return n * 60_000;
}

/** Throws unless `ms` is a positive whole number of milliseconds. */
export function requirePositiveDuration(what: string, ms: unknown): number {
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms <= 0) {
    throw new InvalidDurationError(
      `${what} must be a positive whole number of milliseconds (got ${String(ms)}); use Seconds(n) or Milliseconds(n).`,
    );
  }
  return ms;
}

/** Throws unless `ms` is a positive multiple of `base` (Spark's rule for windows, slides and checkpoint intervals). */
export function requireMultiple(what: string, ms: unknown, baseWhat: string, base: number): number {
  requirePositiveDuration(what, ms);
  if ((ms as number) % base !== 0) {
    throw new InvalidDurationError(
      `${what} (${ms} ms) must be a multiple of ${baseWhat} (${base} ms); choose e.g. ${Math.max(1, Math.round((ms as number) / base)) * base} ms.`,
    );
  }
  return ms as number;
}

/**
 * The time source of a context. The engine never reads `Date.now` or sets timers itself: it asks its clock, so that
 * tests drive time with a {@link ManualClock}.
 */
export interface Clock {
  /** The current time in ms. */
  getTimeMillis(): number;
  /** Calls `callback` once the clock has reached `time`; returns a function that cancels the call. */
  schedule(time: number, callback: () => void): () => void;
}

/** The wall clock. */
export class SystemClock implements Clock {
  /** `Date.now()`. */
  getTimeMillis(): number {
    return Date.now();
  }

  schedule(time: number, callback: () => void): () => void {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = () => {
      const wait = time - Date.now();
      if (wait <= 0) {
        handle = undefined;
        if (!cancelled) callback();
        return;
      }
      handle = setTimeout(arm, wait);
    };
    arm();
    return () => {
      cancelled = true;
      if (handle) clearTimeout(handle);
    };
  }
}

interface ManualTimer {
  time: number;
  seq: number;
  callback: () => void;
}

/**
 * A clock that moves only when told to. Advancing it runs, in time order, every callback whose time has been
 * reached, including ones scheduled by those callbacks.
 */
export class ManualClock implements Clock {
  private now: number;
  private timers: ManualTimer[] = [];
  private seq = 0;
  private firing = false;

  constructor(startMs = 0) {
    this.now = startMs;
  }

  getTimeMillis(): number {
    return this.now;
  }

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.setTime(this.now + ms);
  }

  /** Sets the clock to `ms` (never backwards past a pending timer's firing). */
  setTime(ms: number): void {
    this.now = ms;
    this.fireDue();
  }

  schedule(time: number, callback: () => void): () => void {
    const timer = { time, seq: this.seq++, callback };
    this.timers.push(timer);
    this.fireDue();
    return () => {
      const i = this.timers.indexOf(timer);
      if (i >= 0) this.timers.splice(i, 1);
    };
  }

  private fireDue(): void {
    if (this.firing) return;
    this.firing = true;
    try {
      for (;;) {
        let next: ManualTimer | undefined;
        for (const t of this.timers) {
          if (
            t.time <= this.now &&
            (!next || t.time < next.time || (t.time === next.time && t.seq < next.seq))
          )
            next = t;
        }
        if (!next) return;
        this.timers.splice(this.timers.indexOf(next), 1);
        next.callback();
      }
    } finally {
      this.firing = false;
    }
  }
}

/**
 * Calls `onTick(time)` at `start`, `start + period`, … on a clock (Spark's RecurringTimer). Ticks are never
 * skipped: a late clock gets every missed tick, in order.
 */
export class RecurringTimer {
  private cancel: (() => void) | undefined;
  private nextTime = 0;
  private stopped = true;

  constructor(
    private readonly clock: Clock,
    private readonly period: number,
    private readonly onTick: (time: number) => void,
  ) {}

  /** The first multiple of the period strictly after the clock's time. */
  static nextAligned(clock: Clock, period: number): number {
    return (Math.floor(clock.getTimeMillis() / period) + 1) * period;
  }

  start(startTime: number): void {
    this.stopped = false;
    this.nextTime = startTime;
    this.arm();
  }

  /** Stops the timer; returns the time of the last tick delivered. */
  stop(): number {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    return this.nextTime - this.period;
  }

  private arm(): void {
    this.cancel = this.clock.schedule(this.nextTime, () => {
      if (this.stopped) return;
      const time = this.nextTime;
      this.nextTime += this.period;
      this.onTick(time);
      if (!this.stopped) this.arm();
    });
  }
}
