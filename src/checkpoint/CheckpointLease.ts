import { randomBytes } from "node:crypto";
import { readFileSync, readlinkSync } from "node:fs";
import { hostname } from "node:os";
import {
  CheckpointCorruptError,
  CheckpointFencedError,
  type CheckpointHolder,
  CheckpointLockedError,
} from "../errors.js";
import type { Logger } from "../log.js";
import type { CheckpointStore } from "./CheckpointStore.js";
import { epochOfName } from "./metadata.js";

/** The record that says who owns a checkpoint location. */
export const OWNER_RECORD = "owner";

/** A holder as the record stores it: enough to tell, on its own host, whether it still runs. */
export interface LeaseHolder extends CheckpointHolder {
  /** Random, per context: tells this context's record from one of an earlier process that had the same pid. */
  instance: string;
  /** The kernel's boot id and pid namespace, where known: pids compare only within one of these. */
  machine?: string;
  /** The process's start time in clock ticks since boot (Linux), so that a reused pid is not taken for it. */
  processStart?: string;
  /** The holder's own lease length: it renews every third of it. */
  lockTimeout: number;
}

/** The owner record's content (JSON). `epoch` grows with every change of owner; `holder` is null once released. */
export interface OwnerRecord {
  format: 1;
  epoch: number;
  holder: LeaseHolder | null;
}

const POLL_MS = 250;
/** Instances of this process that hold a location: a record naming our pid is ours only if listed here. */
const liveInstances = new Set<string>();

function encode(record: OwnerRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(record));
}

function decode(data: Uint8Array): OwnerRecord | undefined {
  try {
    const r = JSON.parse(new TextDecoder().decode(data)) as OwnerRecord;
    return typeof r === "object" && r !== null && typeof r.epoch === "number" ? r : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The owner record of a store, or undefined when there is none (or the store has no records). A record read
 * while a writer without hard links fills it in is read again.
 */
export async function readOwnerRecord(
  store: CheckpointStore,
): Promise<{ revision: number; record: OwnerRecord } | undefined> {
  if (!store.readRecord) return undefined;
  for (let attempt = 0; ; attempt++) {
    const raw = await store.readRecord(OWNER_RECORD);
    if (!raw) return undefined;
    const record = decode(raw.data);
    if (record) return { revision: raw.revision, record };
    if (attempt >= 20) {
      throw new CheckpointCorruptError(
        `The ownership record of ${store.location} (revision ${raw.revision}) is not valid JSON. Stop every job ` +
          "on this location, then delete the record (with the file system: the .record-owner folder).",
      );
    }
    await sleep(25);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function machineId(): string | undefined {
  try {
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot} ${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return undefined;
  }
}

/** State and start time of a process, from /proc (Linux); undefined elsewhere or when it does not exist. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses; starttime is field 22.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return undefined;
  }
}

const MACHINE = machineId();
const HOST = hostname();

/** Whether a holder recorded on this machine is certainly not running any more. */
function isDeadHere(holder: LeaseHolder): boolean {
  if (liveInstances.has(holder.instance)) return false;
  // Our own pid, but not one of our contexts: an earlier process that had this pid (a restarted container).
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return true;
    // EPERM: a process of another user has this pid; its start time says whether it is the holder.
  }
  const stat = procStat(holder.pid);
  if (!stat) return false;
  if (stat.state === "Z" || stat.state === "X") return true;
  return holder.processStart !== undefined && stat.start !== holder.processStart;
}

function sameMachine(holder: LeaseHolder): boolean {
  // Without /proc (not Linux) the host name alone says it; with it, a container or a reboot is another machine.
  return holder.host === HOST && holder.machine === MACHINE;
}

/** Whether a holder's process runs: known on its own machine only. */
export function holderRunning(holder: LeaseHolder): boolean | undefined {
  return sameMachine(holder) ? !isDeadHere(holder) : undefined;
}

export interface LeaseOptions {
  appName: string;
  lockTimeout: number;
  log: Logger;
}

/**
 * Ownership of a checkpoint location (Kafka Streams' state-directory lock with Flink's fencing of stale job
 * managers): a lease in the store's owner record, taken with a compare-and-set and renewed every third of
 * `spate.checkpoint.lockTimeout`. A holder on this machine that is not running any more is replaced at once; one
 * that is running but has not renewed for its lock timeout (it is paused) is replaced too, and finds out at its
 * next renewal or write; a holder on another machine is replaced once its record has not changed for its lock
 * timeout, watched here (clocks of two machines are not compared).
 *
 * The lease's times are wall-clock and its timers real ones, not the context's `Clock`: the lease guards against
 * real processes that die or pause in real time, and its record is read by other processes, which share the
 * wall clock but not a test's ManualClock (a job on a ManualClock must still renew).
 *
 * The epoch (one more than the previous owner's, and than any epoch in the location's file names) goes into the
 * names of every file this owner writes: see {@link Checkpointer} for why that, with {@link check} before each
 * write, is the fencing.
 */
export class CheckpointLease {
  private revision: number;
  private holder: LeaseHolder;
  private timer: NodeJS.Timeout | undefined;
  private lost: CheckpointFencedError | undefined;
  private released = false;
  private renewing: Promise<void> | undefined;
  /** Until when (performance.now()) no other context can have taken the location: see {@link check}. */
  private sureUntil: number;
  private log: Logger;
  /** Called once when a renewal or a check finds that another context took the location. */
  onLost: ((error: CheckpointFencedError) => void) | undefined;

  private constructor(
    private readonly store: CheckpointStore &
      Required<Pick<CheckpointStore, "readRecord" | "compareAndSetRecord">>,
    readonly epoch: number,
    revision: number,
    holder: LeaseHolder,
    log: Logger,
    writtenFrom: number,
  ) {
    this.sureUntil = writtenFrom + holder.lockTimeout / 2;
    this.revision = revision;
    this.holder = holder;
    this.log = log;
    liveInstances.add(holder.instance);
    this.schedule();
  }

  /** Whether the store has the records ownership needs. */
  static supportedBy(store: CheckpointStore): boolean {
    return typeof store.readRecord === "function" && typeof store.compareAndSetRecord === "function";
  }

  /**
   * Takes ownership of the store's location, waiting for the lease of a holder on another machine to run out;
   * throws SPATE_CHECKPOINT_LOCKED when a running context owns it. Undefined for a store without records (single
   * ownership is then not enforced, and the log says so).
   */
  static async acquire(store: CheckpointStore, options: LeaseOptions): Promise<CheckpointLease | undefined> {
    if (!CheckpointLease.supportedBy(store)) {
      options.log.warn(
        { location: store.location },
        "this checkpoint store has no records (readRecord/compareAndSetRecord): a second job on the same " +
          "location is not prevented",
      );
      return undefined;
    }
    const recordStore = store as CheckpointStore &
      Required<Pick<CheckpointStore, "readRecord" | "compareAndSetRecord">>;
    const start = procStat(process.pid)?.start;
    let watched: { revision: number; since: number } | undefined;
    for (;;) {
      const current = await readOwnerRecord(store);
      const previous = current?.record;
      const held = previous?.holder ?? undefined;
      if (held) {
        const why = CheckpointLease.replaceable(held, current!.revision, options, watched);
        if (why === "wait") {
          if (watched?.revision !== current!.revision) {
            if (watched) {
              throw new CheckpointLockedError(
                store.location,
                held,
                "which renewed its lease while this job waited for it to run out",
              );
            }
            watched = { revision: current!.revision, since: performance.now() };
            options.log.warn(
              { location: store.location, holder: describe(held), waitMs: held.lockTimeout },
              "the checkpoint location is owned by a job on another host: waiting for its lease to run out",
            );
          }
          await sleep(Math.min(POLL_MS, held.lockTimeout / 4));
          continue;
        }
        if (typeof why === "string") throw new CheckpointLockedError(store.location, held, why);
        options.log.warn(
          { location: store.location, previousOwner: describe(held), reason: why.reason },
          "taking over the checkpoint location from its previous owner",
        );
      }
      let epoch = (previous?.epoch ?? 0) + 1;
      for (const name of await store.list()) epoch = Math.max(epoch, (epochOfName(name) ?? 0) + 1);
      const writtenFrom = performance.now();
      const now = Date.now();
      const holder: LeaseHolder = {
        host: HOST,
        pid: process.pid,
        appName: options.appName,
        since: now,
        renewedAt: now,
        instance: randomBytes(12).toString("hex"),
        lockTimeout: options.lockTimeout,
        ...(MACHINE === undefined ? {} : { machine: MACHINE }),
        ...(start === undefined ? {} : { processStart: start }),
      };
      const revision = await recordStore.compareAndSetRecord(
        OWNER_RECORD,
        encode({ format: 1, epoch, holder }),
        current?.revision ?? 0,
      );
      if (revision === undefined) continue; // another job wrote first: look again
      options.log.info({ location: store.location, epoch }, "owning the checkpoint location");
      return new CheckpointLease(recordStore, epoch, revision, holder, options.log, writtenFrom);
    }
  }

  /**
   * Whether a recorded holder can be replaced now ({ reason }), after watching its record ("wait"), or not at all
   * (why not, for the error).
   */
  private static replaceable(
    held: LeaseHolder,
    revision: number,
    options: LeaseOptions,
    watched: { revision: number; since: number } | undefined,
  ): { reason: string } | "wait" | string {
    const timeout = held.lockTimeout ?? options.lockTimeout;
    if (sameMachine(held)) {
      if (isDeadHere(held)) return { reason: "its process is not running any more" };
      // One machine, one wall clock: the record's renewal time can be compared with ours.
      const age = Date.now() - held.renewedAt;
      if (age >= timeout)
        return { reason: `it is running but has not renewed its lease for ${age} ms (paused?)` };
      return `which is running (it renewed its lease ${Math.max(0, age)} ms ago)`;
    }
    if (watched?.revision === revision && performance.now() - watched.since >= timeout)
      return { reason: `its lease was not renewed for ${timeout} ms` };
    return "wait";
  }

  /** The holder after `create` named the job and its settings: written at once. */
  async adopt(options: LeaseOptions): Promise<void> {
    this.log = options.log;
    if (options.appName === this.holder.appName && options.lockTimeout === this.holder.lockTimeout) return;
    // A renewal under way writes the holder as it was: the new one goes into the next.
    await this.renewing;
    this.holder = { ...this.holder, appName: options.appName, lockTimeout: options.lockTimeout };
    await this.renew();
  }

  private schedule(): void {
    if (this.released || this.lost) return;
    this.timer = setTimeout(() => void this.renew(), this.holder.lockTimeout / 3);
    // The lease must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  /** Writes a fresh renewal time; finding another owner instead fences this one. */
  private renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    clearTimeout(this.timer);
    if (this.released || this.lost) return;
    try {
      const writtenFrom = performance.now();
      const holder = { ...this.holder, renewedAt: Date.now() };
      const revision = await this.store.compareAndSetRecord(
        OWNER_RECORD,
        encode({ format: 1, epoch: this.epoch, holder }),
        this.revision,
      );
      if (revision !== undefined) {
        this.revision = revision;
        this.holder = holder;
        this.sureUntil = writtenFrom + holder.lockTimeout / 2;
      } else {
        const now = await readOwnerRecord(this.store);
        // Our own write whose success was not reported (an I/O error after the rename) is still ours.
        if (now?.record.holder?.instance === this.holder.instance) this.revision = now.revision;
        else this.fence(now?.record);
      }
    } catch (e) {
      this.log.warn(
        { location: this.store.location, error: e },
        "could not renew the checkpoint lease; retrying",
      );
    }
    this.schedule();
  }

  /** Marks the lease lost, and tells `onLost` once, whichever of a renewal or a check found it. */
  private fence(record: OwnerRecord | undefined): CheckpointFencedError {
    if (this.lost) return this.lost;
    const other = record?.holder;
    this.lost = new CheckpointFencedError(
      this.store.location,
      other
        ? `${other.appName} (pid ${other.pid} on ${other.host}) took it over at ${new Date(other.since).toISOString()}`
        : "its ownership record was released or removed by someone else",
    );
    clearTimeout(this.timer);
    liveInstances.delete(this.holder.instance);
    this.onLost?.(this.lost);
    return this.lost;
  }

  /**
   * Throws SPATE_CHECKPOINT_FENCED unless this context still owns the location; called before every checkpoint
   * write. No other context can take the location before a full lock timeout after this one's last renewal began
   * (one on this host compares the renewal time written then with its own wall clock; one on another host waits a
   * lock timeout from when it first saw that renewal), so within half of it ownership is sure without a read, and
   * a job that renews on time never reads here. Past that (the job was paused, or renewals failed) the record is
   * read. A pause between this check and the write is harmless: see Checkpointer.
   */
  async check(): Promise<void> {
    if (this.lost) throw this.lost;
    if (performance.now() < this.sureUntil) return;
    const now = await readOwnerRecord(this.store);
    if (now?.record.holder?.instance !== this.holder.instance) throw this.fence(now?.record);
  }

  /** Gives the location up (on stop): the next owner starts at once, with the next epoch. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.timer);
    await this.renewing;
    liveInstances.delete(this.holder.instance);
    if (this.lost) return;
    try {
      const done = await this.store.compareAndSetRecord(
        OWNER_RECORD,
        encode({ format: 1, epoch: this.epoch, holder: null }),
        this.revision,
      );
      if (done === undefined)
        this.log.warn({ location: this.store.location }, "the checkpoint lease was already lost");
    } catch (e) {
      this.log.warn({ location: this.store.location, error: e }, "could not release the checkpoint lease");
    }
  }
}

function describe(h: LeaseHolder): string {
  return `${h.appName} (pid ${h.pid} on ${h.host}, since ${new Date(h.since).toISOString()})`;
}
