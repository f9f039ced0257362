import { Packr } from "msgpackr";
import type { StateStore } from "../state/StateStore.js";
import type { GraphStream } from "../graph/DStreamGraph.js";
import type { StreamingContext } from "../StreamingContext.js";

/** The live size of one stateful operator's state. */
export interface OperatorState {
  readonly id: string;
  readonly kind: string;
  /** `kind at file:line (id)`: where the job's code created it. */
  readonly name: string;
  readonly numPartitions: number;
  /** Keys held now; undefined when the operator has computed no batch yet. */
  readonly numKeys: number | undefined;
  /** An estimate of the state's size encoded as a checkpoint would encode it (from a sample of entries). */
  readonly estimatedBytes: number | undefined;
}

const SAMPLE = 32;
// The checkpoint codec, so that the estimate is of the size a full snapshot would have.
const packr = new Packr({ useRecords: true, mapsAsObjects: false, moreTypes: true });

/** Bytes of `total` entries, estimated from the encoded size of a sample of them. */
function estimate(keys: unknown[], states: unknown[], total: number): number | undefined {
  if (total === 0) return 0;
  if (keys.length === 0) return undefined;
  try {
    return Math.round((packr.pack([keys, states]).length / keys.length) * total);
  } catch {
    return undefined; // a state msgpack cannot encode: no estimate rather than a failing page
  }
}

function ofStores(stream: GraphStream, stores: StateStore<unknown, unknown>[]): OperatorState {
  let numKeys = 0;
  const keys: unknown[] = [];
  const states: unknown[] = [];
  for (const store of stores) {
    numKeys += store.size;
    if (keys.length >= SAMPLE) continue;
    for (const entry of store.entries()) {
      keys.push(entry.key);
      states.push(entry.state);
      if (keys.length >= SAMPLE) break;
    }
  }
  return {
    id: stream.id,
    kind: stream.op.kind,
    name: stream.name,
    numPartitions: stores.length,
    numKeys,
    estimatedBytes: estimate(keys, states, numKeys),
  };
}

/**
 * An operator whose state is its last RDD (a reduced window): the records of that RDD as of `upTo`, the last
 * batch that completed. Only an RDD that batch already computed and kept is read, so nothing is computed here.
 */
function ofLastRDD(stream: GraphStream, upTo: number | undefined): OperatorState {
  const base = { id: stream.id, kind: stream.op.kind, name: stream.name };
  const times = upTo === undefined ? [] : stream.generatedTimes().filter((t) => t <= upTo);
  const rdd = times.length > 0 ? stream.getOrCompute(Math.max(...times)) : undefined;
  if (!rdd?.isPersisted)
    return {
      ...base,
      numPartitions: rdd?.getNumPartitions() ?? 0,
      numKeys: undefined,
      estimatedBytes: undefined,
    };
  const parts = rdd.materialize() as Array<Array<[unknown, unknown]>>;
  let numKeys = 0;
  const keys: unknown[] = [];
  const states: unknown[] = [];
  for (const part of parts) {
    numKeys += part.length;
    for (let i = 0; i < part.length && keys.length < SAMPLE; i++) {
      keys.push(part[i]![0]);
      states.push(part[i]![1]);
    }
  }
  return { ...base, numPartitions: parts.length, numKeys, estimatedBytes: estimate(keys, states, numKeys) };
}

/**
 * Every stateful operator of a started context with the size of its state now: keys counted from its state
 * stores (a sum of their sizes, no scan), or from its last RDD for operators whose state is that RDD.
 * `lastGoodBatch` is the last batch that completed without failing.
 */
export function statefulOperators(ssc: StreamingContext, lastGoodBatch: number | undefined): OperatorState[] {
  const storesByOperator = new Map<string, StateStore<unknown, unknown>[]>();
  for (const store of ssc.stateStores.stores()) {
    const list = storesByOperator.get(store.operatorId);
    if (list) list.push(store);
    else storesByOperator.set(store.operatorId, [store]);
  }
  const out: OperatorState[] = [];
  for (const s of ssc.graph.streams) {
    if (!s.op.checkpointState) continue;
    const stores = storesByOperator.get(s.id);
    out.push(stores ? ofStores(s, stores) : ofLastRDD(s, lastGoodBatch));
  }
  return out;
}
