// Test graphs a worker thread can rebuild. A test names a case of a cases module (a module whose export `cases` maps
// names to functions that build output streams from input streams) and gives its input as plain data; the context it
// runs gets this module as its jobModule, with the case in its arguments, so importing this module and calling its
// default export builds the same graph again (same operators, same ids), as a worker does (role "worker"). The
// outputs collect on the driver only: a worker's copy of the graph registers the same outputs with no sink.
import { deserialize, serialize } from "node:v8";
import { type DStream, type JobArgs, ManualClock, StreamingContext } from "spate";

/** Builds a case's graph from its input streams: one output stream, or named ones. */
export type CaseBuild = (...streams: DStream<any>[]) => DStream<any> | Record<string, DStream<any>>;

/** A cases module's export `cases`. */
export type Cases = Record<string, CaseBuild>;

/** A cases module's export `parameterized`: cases that take plain-data parameters (`CaseSpec.params`). */
export type ParameterizedCases = Record<string, (...params: any[]) => CaseBuild>;

/** One run of a case: which one, its input (one array of batches per input stream) and its context's options. */
export interface CaseSpec {
  /** The URL of the cases module. */
  cases: string;
  name: string;
  /** Parameters of a case of `parameterized` (plain data); absent for a case of `cases`. */
  params?: unknown[];
  inputs: unknown[][][];
  batchDuration: number;
  conf: Record<string, string | number | boolean>;
}

/** Receives each output batch on the driver. */
export type Sink = (output: string, time: number, records: unknown[]) => void;

const encode = (spec: CaseSpec): string => serialize(spec).toString("base64");
const decode = (arg: string): CaseSpec => deserialize(Buffer.from(arg, "base64")) as CaseSpec;

const isStream = (x: unknown): x is DStream<any> => typeof (x as DStream<any>).foreachRDD === "function";

/**
 * Builds the case's context: its input streams, its graph, and one output per named stream (sending to `sink`),
 * whose names `names` receives in order.
 */
export async function buildCase(
  spec: CaseSpec,
  sink?: Sink,
  names: string[] = [],
): Promise<{ ssc: StreamingContext; outputs: Record<string, DStream<any>> }> {
  const mod = (await import(spec.cases)) as { cases?: Cases; parameterized?: ParameterizedCases };
  const build = spec.params ? mod.parameterized?.[spec.name]?.(...spec.params) : mod.cases?.[spec.name];
  if (!build) throw new Error(`no case "${spec.name}" in ${spec.cases}`);
  const ssc = new StreamingContext({
    batchDuration: spec.batchDuration,
    clock: new ManualClock(0),
    conf: spec.conf,
    jobModule: { url: import.meta.url, args: [encode(spec)] },
  });
  const streams = spec.inputs.map((input) => ssc.queueStream(input.map((b) => [...b])));
  const built = build(...streams);
  const outputs = isStream(built) ? { out: built } : built;
  for (const [name, stream] of Object.entries(outputs)) {
    names.push(name);
    stream.foreachRDD(async (rdd, time) => {
      if (sink) sink(name, time, await rdd.collect());
    });
  }
  return { ssc, outputs };
}

/** The job module's create function: the case in `args[0]`, built again (by a worker: without a sink). */
export default async function createContext(job: JobArgs): Promise<StreamingContext> {
  return (await buildCase(decode(job.args[0]!))).ssc;
}

/**
 * Runs a case for `numBatches` batches of `batchDuration` on a ManualClock and collects each named output's records
 * by batch time.
 */
export async function runCase(
  spec: CaseSpec,
  numBatches: number,
): Promise<Record<string, Map<number, unknown[]>>> {
  const outputs: Record<string, Map<number, unknown[]>> = {};
  const names: string[] = [];
  const { ssc } = await buildCase(
    spec,
    (name, time, records) => void outputs[name]!.set(time, records),
    names,
  );
  for (const name of names) outputs[name] = new Map();
  await ssc.start();
  try {
    const clock = ssc.clock as ManualClock;
    for (let i = 0; i < numBatches; i++) clock.advance(spec.batchDuration);
    await ssc.awaitIdle();
  } finally {
    await ssc.stop();
  }
  return outputs;
}
