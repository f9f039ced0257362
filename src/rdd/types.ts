/** Receives one record of a partition. Partitions are computed by pushing records, so narrow operations fuse. */
export type Emit<T> = (record: T) => void;
/** Computes partition `partition` of an RDD by pushing its records to `emit`. */
export type Compute<T> = (partition: number, emit: Emit<T>) => void;
