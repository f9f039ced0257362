// The memory state store's guard against running the heap out: every HEAP_CHECK_INTERVAL new keys, a store looks at
// the old generation (where state lives) and fails its batch with SPATE_STATE_TOO_LARGE when the keys it holds,
// plus the largest allocation its next growth could make, would take the heap past HEAP_USE_LIMIT of its limit.
import { getHeapSpaceStatistics, getHeapStatistics } from "node:v8";
import { StateTooLargeError } from "../errors.js";
import { KEYMAP_PRIMARY_CAPACITY } from "../rdd/keys.js";

/** New keys a memory store adds between two looks at the heap (one look costs a few microseconds). */
export const HEAP_CHECK_INTERVAL = 16_384;

/**
 * The share of the old generation's limit that state may fill, its next growth included. V8 starts a full
 * collection at the latest halfway between the live heap and the limit, so heap in use above 90% means live data
 * above about 80%: a heap that full spends its time collecting and one allocation away from a crash. Below that,
 * garbage alone never trips the guard.
 */
export const HEAP_USE_LIMIT = 0.9;

/**
 * Keys one partition's memory store holds at most: its columns are JavaScript arrays, and V8 ends the process (a
 * fatal error, not an exception) when an array grows past about 112M elements.
 */
export const MAX_KEYS_PER_PARTITION = 100_000_000;

/** The old generation's bytes in use and the bytes it may grow to. */
export interface HeapUse {
  readonly used: number;
  readonly limit: number;
}

const MB = 2 ** 20;
let youngReserve: number | undefined;

/**
 * Bytes of the heap limit that belong to the young generation: three semi-spaces, 16 MB each unless
 * `--max-semi-space-size` (or `--max-young-generation-size`) says otherwise.
 */
export function youngGenerationBytes(flags: readonly string[]): number {
  let young = 3 * 16 * MB;
  for (let i = 0; i < flags.length; i++) {
    const m = /^--max[-_](semi[-_]space|young[-_]generation)[-_]size(?:=(\d+))?$/.exec(flags[i]!);
    if (!m) continue;
    const mb = Number(m[2] ?? flags[i + 1]);
    if (Number.isFinite(mb) && mb > 0) young = (m[1]!.startsWith("semi") ? 3 : 1) * mb * MB;
  }
  return young;
}

/** The old generation's use now: every space but the young generation's, against the limit less its share. */
export function heapUse(): HeapUse {
  youngReserve ??= youngGenerationBytes([
    ...process.execArgv,
    ...(process.env.NODE_OPTIONS ?? "").split(/\s+/).filter((f) => f !== ""),
  ]);
  let used = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith("new_")) used += space.space_used_size;
  }
  return { used, limit: Math.max(getHeapStatistics().heap_size_limit - youngReserve, 1) };
}

/**
 * The largest allocation a memory store of `keys` keys may make before the guard looks again: its index's Map
 * growing, and its key and state arrays each growing by half (a new array of 1.5 times as many 8-byte elements).
 * A Map of capacity C (a power of two) takes 28 bytes a slot (three 8-byte words per entry, half a word of bucket);
 * full, it doubles (56 C bytes), or, when deleted entries fill it, it is rebuilt at the same capacity (28 C bytes).
 */
export function growthReserve(keys: number): number {
  const columns = 2 * 8 * 1.5 * keys;
  // Past the primary Map, new keys go to one of 64 Maps chosen by hash: only those grow.
  const past = keys >= KEYMAP_PRIMARY_CAPACITY;
  const entries = past ? (keys - KEYMAP_PRIMARY_CAPACITY) / 64 : keys;
  const coming = (past ? 2 / 64 : 2) * HEAP_CHECK_INTERVAL;
  let slots = 4;
  while (slots < entries) slots *= 2;
  // A table of the primary Map's capacity is its largest: the keys past it go to the overflow's Maps.
  if (!past && slots >= KEYMAP_PRIMARY_CAPACITY) return columns;
  return columns + (entries + coming >= slots ? 56 : 28) * slots;
}

/** Whether the heap has room for state of `keys` keys to grow: false when the guard must fail the batch. */
export function heapHasRoom(use: HeapUse, keys: number): boolean {
  return use.used + growthReserve(keys) <= HEAP_USE_LIMIT * use.limit;
}

/**
 * Throws {@link StateTooLargeError} when the store of `operatorId`'s `partition`, holding `keys` keys, may not grow
 * any further: the heap is near its limit, or the partition holds {@link MAX_KEYS_PER_PARTITION} keys.
 */
export function checkStateSize(operatorId: string, partition: number, keys: number): void {
  const use = heapUse();
  const tooMany = keys >= MAX_KEYS_PER_PARTITION;
  if (!tooMany && heapHasRoom(use, keys)) return;
  // The operator's call site and the batch time are added on the way to the scheduler (errors.ts).
  throw new StateTooLargeError(
    { id: operatorId, name: operatorId },
    {
      partition,
      keys,
      heapUsed: use.used,
      heapLimit: use.limit,
      growthBytes: growthReserve(keys),
      tooManyKeys: tooMany,
    },
  );
}
