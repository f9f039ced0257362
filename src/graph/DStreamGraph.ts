import type { ForEachOp, Job } from "../dstream/ForEachOp.js";
import type { GraphNode } from "../dstream/Operator.js";
import { attribute, IllegalStateError } from "../errors.js";
import { shortHash } from "../rdd/keys.js";

/** What the graph generates for one batch: the records each input stream got, and one job per output. */
export interface GeneratedBatch {
  readonly time: number;
  readonly inputRecords: ReadonlyMap<string, number>;
  /** What each input stream that describes its input read for the batch (files, blocks, sequences). */
  readonly inputDescriptions: ReadonlyMap<string, string>;
  readonly jobs: readonly Job[];
}

/** A stream as the graph keeps it: a node, and what the graph sets on it as it starts (a DStream is one). */
export interface GraphStream<T = any> extends GraphNode<T> {
  zeroTime: number | undefined;
  rememberDuration: number;
  /** The id pinned with `uid()`, if any. */
  readonly pinnedId: string | undefined;
  /** The interval of its data checkpoints, if set. */
  readonly checkpointInterval: number | undefined;
  setId(id: string): void;
  /** Forgets RDDs older than the remember duration. */
  clearMetadata(time: number): void;
  /** The batch times of the RDDs it holds. */
  generatedTimes(): number[];
}

/**
 * The DStreams of a context, their outputs and their stable ids (Spark's DStreamGraph). Streams are registered
 * in creation order, which is a topological order: a stream is always created after its parents.
 */
export class DStreamGraph {
  readonly streams: GraphStream[] = [];
  readonly outputs: GraphStream[] = [];
  private frozen = false;

  register(stream: GraphStream): void {
    this.requireBuilding("Creating a stream");
    this.streams.push(stream);
  }

  addOutput(stream: GraphStream): void {
    this.outputs.push(stream);
  }

  requireBuilding(what: string): void {
    if (this.frozen) {
      throw new IllegalStateError(
        "SPATE_GRAPH_FROZEN",
        `${what} after the context started is not allowed: build every stream and output before start() ` +
          "(or in the create function given to getOrCreate).",
      );
    }
  }

  get inputs(): GraphStream[] {
    return this.streams.filter((s) => s.op.input);
  }

  /**
   * Checks the graph and gives every stream its stable id: the pinned `uid`, or a hash of its kind, its parents'
   * ids and its rank among its siblings of the same kind, so that adding a branch elsewhere changes no id.
   */
  freeze(): void {
    if (this.frozen) return;
    if (this.outputs.length === 0) {
      throw new IllegalStateError(
        "SPATE_NO_OUTPUT",
        "No output operation is registered, so there is nothing to run: add foreachRDD(), print() or " +
          "saveAsTextFiles() to a stream before start().",
      );
    }
    const ranks = new Map<string, number>();
    const used = new Map<string, GraphStream>();
    for (const s of this.streams) {
      const lineage = `${s.op.parents.map((p) => p.id).join(",")}|${s.op.kind}`;
      const rank = ranks.get(lineage) ?? 0;
      ranks.set(lineage, rank + 1);
      const id = s.pinnedId ?? `${s.op.kind}-${shortHash(`${lineage}|${rank}`)}`;
      if (used.has(id)) {
        throw new IllegalStateError(
          "SPATE_DUPLICATE_UID",
          `Two operators have the id "${id}"; give each a distinct uid().`,
        );
      }
      used.set(id, s);
      s.setId(id);
    }
    this.frozen = true;
  }

  /** Sets every stream's zero time and remember duration, then lets stateful operators load initial state. */
  start(zeroTime: number, rememberDuration: number | undefined, restoring = false): void {
    for (const s of this.streams) {
      s.zeroTime = zeroTime;
      const checkpoint = s.checkpointInterval;
      s.rememberDuration =
        checkpoint !== undefined ? Math.max(s.slideDuration, 2 * checkpoint) : s.slideDuration;
    }
    for (const o of this.outputs) o.remember(rememberDuration ?? 0);
    for (const s of this.streams) s.op.initialize?.(s, zeroTime, restoring);
  }

  /** Allocates the batch's input to every input stream, then creates one job per output that has an RDD. */
  generateJobs(time: number): GeneratedBatch {
    const inputRecords = new Map<string, number>();
    const inputDescriptions = new Map<string, string>();
    for (const s of this.inputs) {
      const rdd = s.getOrCompute(time);
      if (!rdd) continue;
      // Counted without materializing: a receiver knows its blocks' counts (lines it has not decoded yet), a file
      // stream streams its lines and holds none of a large file.
      let n = 0;
      const known = s.op.numRecords?.(time);
      if (known !== undefined) n = known;
      else for (let p = 0; p < rdd.numPartitions; p++) n += rdd.partitionCount(p);
      inputRecords.set(s.id, n);
      const description = s.op.describeInput?.(time);
      if (description !== undefined) inputDescriptions.set(s.id, description);
    }
    const jobs: Job[] = [];
    for (const o of this.outputs) {
      const job = (o.op as ForEachOp<any>).generateJob(time, o);
      if (job) jobs.push(job);
    }
    return { time, inputRecords, inputDescriptions, jobs };
  }

  /**
   * Computes, in graph order, the batch's RDDs of stateful streams (their state must advance every batch, in
   * order) and of persisted streams (later windows read them).
   */
  materializeStateful(time: number, only?: (stream: GraphStream) => boolean): void {
    for (const s of this.streams) {
      if (only ? !only(s) : !s.op.stateful && !s.isPersisted) continue;
      try {
        s.getOrCompute(time)?.materialize();
      } catch (e) {
        throw attribute(s, e);
      }
    }
  }

  clearMetadata(time: number): void {
    for (const s of this.streams) s.clearMetadata(time);
  }
}
