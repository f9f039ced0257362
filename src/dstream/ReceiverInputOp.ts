import * as path from "node:path";
import { decodeCheckpointFile, encodeCheckpointFile } from "../checkpoint/format.js";
import { IllegalStateError } from "../errors.js";
import { RDD } from "../rdd/RDD.js";
import { PIDRateEstimator } from "../flow/PIDRateEstimator.js";
import { RateController } from "../flow/RateController.js";
import { LinesBlock, type StoredBlock } from "../receiver/Block.js";
import type { Receiver } from "../receiver/Receiver.js";
import { ReceiverSupervisor } from "../receiver/ReceiverSupervisor.js";
import type { ReceiverInfo } from "../scheduler/StreamingListener.js";
import { FileWriteAheadLog } from "../receiver/wal/FileWriteAheadLog.js";
import type { WalRecordHandle, WriteAheadLog } from "../receiver/wal/WriteAheadLog.js";
import { Allocations } from "./Allocations.js";
import type { GraphNode, InputLog, Operator } from "./Operator.js";

/** Records a receiver stored in one call: counted as received once logged (with the WAL) or at once (without). */
interface Block<T> {
  /** The records: an array, or a block decoded each time a batch reads it. */
  items: T[] | StoredBlock<T>;
  /** Where the block is in the write-ahead log. */
  handle?: WalRecordHandle;
  /** Clock time of writing, for cleaning the log. */
  time: number;
}

interface BlockRef {
  handle: WalRecordHandle;
  time: number;
}

interface ReceiverLogData {
  /** The blocks of every batch kept that got some (0.1.0 listed empty batches too). */
  batches: Array<[number, BlockRef[]]>;
  /** The latest batch time allocated: later ones not listed got no block (absent in 0.1.0). */
  through?: number;
  /** The last block given to a batch: blocks logged after it were received but not yet given to any batch. */
  allocatedUpTo: WalRecordHandle | undefined;
}

const noValue = (): void => {};

const sameHandle = (a: WalRecordHandle, b: WalRecordHandle) =>
  a.segment === b.segment && a.offset === b.offset;

/**
 * `receiverStream` (Spark's ReceiverInputDStream with its ReceiverTracker): runs a receiver under a
 * {@link ReceiverSupervisor} (restarts, rate limit, backpressure through a {@link RateController}), and gives each
 * batch every block stored since the previous batch, one partition per block. With `spate.receiver.writeAheadLog.enable`,
 * a block counts as received only once durably logged, the blocks of each batch are recorded in metadata
 * checkpoints, and recovery reads them back from the log: data stored before a crash is counted exactly once.
 */
export class ReceiverInputOp<T> implements Operator<T> {
  readonly kind = "receiverStream";
  readonly parents: readonly GraphNode<any>[] = [];
  readonly input = true;
  private received: Block<T>[] = [];
  private readonly batches = new Allocations<Block<T>[]>();
  private allocatedUpTo: WalRecordHandle | undefined;
  private wal: WriteAheadLog | undefined;
  /** Blocks being logged, in log order: received once they and every block before them are durable. */
  private logging: Array<Block<T> & { durable: boolean }> = [];
  /** Settles once every block logged so far is durable (or failed). */
  private writes: Promise<unknown> = Promise.resolve();
  private cleaning: Promise<void> = Promise.resolve();
  private running = false;
  private supervisor: ReceiverSupervisor<T> | undefined;
  private rateController: RateController | undefined;

  readonly inputLog: InputLog;

  constructor(
    readonly slideDuration: number,
    private readonly receiver: Receiver<T>,
    private readonly useWriteAheadLog: boolean,
  ) {
    this.inputLog = this.makeInputLog();
  }

  private makeInputLog(): InputLog {
    return {
      replayable: this.useWriteAheadLog,
      save: (keepFrom: number): ReceiverLogData => {
        let oldest = Number.POSITIVE_INFINITY;
        this.batches.prune(keepFrom);
        for (const blocks of this.batches.values()) for (const b of blocks) oldest = Math.min(oldest, b.time);
        for (const b of this.received) oldest = Math.min(oldest, b.time);
        const wal = this.wal;
        if (wal && Number.isFinite(oldest)) {
          this.cleaning = this.cleaning.then(() => wal.clean(oldest)).catch(() => {});
        }
        return {
          batches: [...this.batches.entries()].map(([t, blocks]) => [
            t,
            blocks.map((b) => ({ handle: b.handle!, time: b.time })),
          ]),
          through: this.batches.through,
          allocatedUpTo: this.allocatedUpTo,
        };
      },
      restore: async (data: unknown, self: GraphNode<T>): Promise<void> => {
        const d = data as ReceiverLogData;
        const wal = this.openLog(self);
        const batches: Array<[number, Block<T>[]]> = [];
        for (const [t, refs] of d.batches) {
          const blocks: Block<T>[] = [];
          for (const ref of refs)
            blocks.push({ ...ref, items: this.decode(await wal.read(ref.handle), ref.handle) });
          batches.push([t, blocks]);
        }
        this.batches.restore(batches, (blocks) => blocks.length === 0, d.through);
        this.allocatedUpTo = d.allocatedUpTo;
        let after = d.allocatedUpTo === undefined;
        for await (const { handle, time, record } of wal.readAll()) {
          if (after) this.received.push({ items: this.decode(record, handle), handle, time });
          else if (sameHandle(handle, d.allocatedUpTo!)) after = true;
        }
      },
      allocateEmptyThrough: (time: number): void => this.batches.allocateEmptyThrough(time),
    };
  }

  private openLog(self: GraphNode<T>): WriteAheadLog {
    if (!this.wal) {
      const location = self.env.checkpointDirectory;
      if (location === undefined) {
        throw new IllegalStateError(
          "SPATE_CONTEXT_STOPPED",
          "The receiver write-ahead log lives in the checkpoint directory: call ssc.checkpoint(dir) first.",
        );
      }
      // The log is in the checkpoint location: a job that lost it stops writing there (each group is fenced).
      this.wal = new FileWriteAheadLog(
        path.join(location, "receivedData", encodeURIComponent(self.id)),
        60_000,
        () => self.env.checkOwnership(),
      );
    }
    return this.wal;
  }

  /** A block from its log record: a block of lines (`SPLN`), or an array in a checkpoint file (`SPTE`, 0.1.0 on). */
  private decode(record: Uint8Array, handle: WalRecordHandle): T[] | StoredBlock<T> {
    if (LinesBlock.isRecord(record)) {
      return LinesBlock.decode(record, `${handle.segment}@${handle.offset}`) as unknown as StoredBlock<T>;
    }
    return decodeCheckpointFile(record, "wal", "write-ahead log record") as T[];
  }

  async start(self: GraphNode<T>): Promise<void> {
    const wal = this.useWriteAheadLog ? this.openLog(self) : undefined;
    const { clock, conf, log } = self.env;
    const bus = self.env.listenerBus;
    this.running = true;
    const push = (items: T[] | StoredBlock<T>): Promise<void> | undefined => {
      if (!this.running)
        return Promise.reject(new IllegalStateError("SPATE_CONTEXT_STOPPED", "The receiver is stopped."));
      const time = clock.getTimeMillis();
      if (!wal) {
        this.received.push({ items, time });
        return undefined;
      }
      // The log commits writes in groups, in call order: one fsync serves every block written meanwhile.
      const block: Block<T> & { durable: boolean } = { items, time, durable: false };
      this.logging.push(block);
      const record = Array.isArray(items) ? encodeCheckpointFile("wal", items) : items.encode();
      const written = wal.write(record, time).then(
        (handle) => {
          block.handle = handle;
          block.durable = true;
          this.receiveLogged();
        },
        (e) => {
          this.logging.splice(this.logging.indexOf(block), 1);
          this.receiveLogged();
          throw e;
        },
      );
      // Settles with nothing: a Promise.all's value holds the values of its inputs, so chaining them would keep
      // one array per store alive for as long as the receiver runs.
      this.writes = Promise.all([this.writes, written.catch(() => {})]).then(noValue);
      return written;
    };
    const maxRate = conf.getNumber("spate.receiver.maxRate") || undefined;
    const backpressure = conf.getBoolean("spate.backpressure.enabled");
    const initialRate = backpressure ? conf.getNumber("spate.backpressure.initialRate") : undefined;
    const supervisor = new ReceiverSupervisor(this.receiver, push, {
      streamId: self.id,
      clock,
      log,
      bus,
      restartDelay: conf.getNumber("spate.receiver.restartDelay")!,
      maxRestartDelay: conf.getNumber("spate.receiver.maxRestartDelay")!,
      maxRate,
      initialRate:
        initialRate !== undefined && maxRate !== undefined
          ? Math.min(initialRate, maxRate)
          : (initialRate ?? maxRate),
    });
    this.supervisor = supervisor;
    if (backpressure) {
      const estimator = new PIDRateEstimator(this.slideDuration, {
        proportional: conf.getNumber("spate.backpressure.pid.proportional")!,
        integral: conf.getNumber("spate.backpressure.pid.integral")!,
        derivative: conf.getNumber("spate.backpressure.pid.derived")!,
        minRate: conf.getNumber("spate.backpressure.pid.minRate")!,
      });
      this.rateController = new RateController(self.id, estimator, (rate) => supervisor.updateRate(rate));
      bus.add(this.rateController);
    }
    await supervisor.start();
  }

  /** Moves the blocks durable so far, up to the first one still being logged, to the received blocks. */
  private receiveLogged(): void {
    let n = 0;
    while (n < this.logging.length && this.logging[n]!.durable) n++;
    if (n === 0) return;
    for (const { items, handle, time } of this.logging.splice(0, n))
      this.received.push({ items, handle, time });
  }

  /** The receiver's status, once started. */
  get receiverInfo(): ReceiverInfo | undefined {
    return this.supervisor?.info;
  }

  /** Stops the receiver (no new data) and waits for stores already admitted to be received. */
  async stopReceiving(): Promise<void> {
    await this.supervisor?.stop();
    await this.writes;
  }

  /** Whether blocks were received that no batch has been given yet. */
  hasUnallocatedBlocks(): boolean {
    return this.received.length > 0;
  }

  async stop(self: GraphNode<T>): Promise<void> {
    await this.stopReceiving();
    this.running = false;
    if (this.rateController) self.env.listenerBus.remove(this.rateController);
    await this.cleaning;
    await this.wal?.close();
  }

  describeInput(time: number): string | undefined {
    const blocks = this.batches.get(time) ?? (this.batches.has(time) ? [] : undefined);
    if (!blocks) return undefined;
    const records = this.numRecords(time) ?? 0;
    const logged = this.useWriteAheadLog ? ", logged in the write-ahead log" : "";
    return `${blocks.length} block${blocks.length === 1 ? "" : "s"}, ${records} records${logged}`;
  }

  compute(time: number, self: GraphNode<T>): RDD<T> {
    let blocks = this.batches.get(time);
    if (!blocks && this.batches.has(time)) blocks = []; // allocated, and given no block
    if (!blocks) {
      blocks = this.received;
      this.received = [];
      this.batches.set(time, blocks, blocks.length === 0);
      const last = blocks.at(-1)?.handle;
      if (last) this.allocatedUpTo = last;
      if (self.env.checkpointDirectory === undefined) this.batches.prune(time - self.rememberDuration + 1);
    }
    return blockRDD(blocks, self);
  }

  /** Records given to the batch at `time` (once computed), counted without decoding them. */
  numRecords(time: number): number | undefined {
    const blocks = this.batches.get(time);
    if (!blocks) return undefined;
    let n = 0;
    for (const b of blocks) n += Array.isArray(b.items) ? b.items.length : b.items.count;
    return n;
  }
}

/** One partition per block; blocks held as received are decoded each time a partition is read. */
function blockRDD<T>(blocks: Block<T>[], self: GraphNode<T>): RDD<T> {
  const env = self.env.rddEnv;
  if (blocks.length === 0) return RDD.fromPartitions([[]], env);
  if (blocks.every((b) => Array.isArray(b.items)))
    return RDD.fromPartitions(
      blocks.map((b) => b.items as T[]),
      env,
    );
  // Each block knows how many records it holds: a count of the batch (`count()` right on the stream) reads no line.
  return RDD.sized<T>(
    blocks.length,
    (p, emit) => {
      const items = blocks[p]!.items;
      if (Array.isArray(items)) for (let i = 0; i < items.length; i++) emit(items[i]!);
      else items.forEach(emit);
    },
    (p) => {
      const items = blocks[p]!.items;
      return Array.isArray(items) ? items.length : items.count;
    },
    env,
  );
}
