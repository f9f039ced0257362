// Narrow transformations: each partition is computed from the same partition of the parent, by pushing its records
// through, so that a chain of them fuses into one loop. Each function gives the compute function of the child.
import { DROPPED, type Guarded } from "./failures.js";
import type { Compute, Emit, RDD } from "./RDD.js";

/** Pushes every record of an iterable a user function returned: arrays by index, anything else by its iterator. */
function emitAll<U>(ys: Iterable<U>, emit: Emit<U>): void {
  if (Array.isArray(ys)) for (let i = 0; i < ys.length; i++) emit(ys[i]);
  else for (const y of ys) emit(y);
}

export function mapCompute<T, U>(parent: RDD<T>, fn: (p: number) => Guarded<T, U>): Compute<U> {
  return (p, emit) => {
    const f = fn(p);
    parent.iterate(p, (x) => {
      const y = f(x, x);
      if (y !== DROPPED) emit(y);
    });
  };
}

export function flatMapCompute<T, U>(parent: RDD<T>, fn: (p: number) => Guarded<T, Iterable<U>>): Compute<U> {
  return (p, emit) => {
    const f = fn(p);
    parent.iterate(p, (x) => {
      const ys = f(x, x);
      if (ys !== DROPPED) emitAll(ys, emit);
    });
  };
}

export function filterCompute<T>(parent: RDD<T>, fn: (p: number) => Guarded<T, boolean>): Compute<T> {
  return (p, emit) => {
    const f = fn(p);
    parent.iterate(p, (x) => {
      const keep = f(x, x);
      if (keep === true || (keep !== false && keep !== DROPPED && keep)) emit(x);
    });
  };
}

export function mapValuesCompute<K, V, U>(
  parent: RDD<[K, V]>,
  fn: (p: number) => Guarded<V, U>,
): Compute<[K, U]> {
  return (p, emit) => {
    const f = fn(p);
    parent.iterate(p, (kv) => {
      const u = f(kv[1], kv);
      if (u !== DROPPED) emit([kv[0], u]);
    });
  };
}

export function flatMapValuesCompute<K, V, U>(
  parent: RDD<[K, V]>,
  fn: (p: number) => Guarded<V, Iterable<U>>,
): Compute<[K, U]> {
  return (p, emit) => {
    const f = fn(p);
    parent.iterate(p, (kv) => {
      const us = f(kv[1], kv);
      if (us === DROPPED) return;
      const k = kv[0];
      for (const u of us) emit([k, u]);
    });
  };
}

/** `fn` once per partition with its records as an array (the parent's own array when it is persisted). */
export function mapPartitionsCompute<T, U>(
  parent: RDD<T>,
  fn: (index: number, records: T[]) => Iterable<U>,
): Compute<U> {
  return (p, emit) => emitAll(fn(p, parent.partition(p)), emit);
}

/** One array per partition (Spark's glom). */
export function glomCompute<T>(parent: RDD<T>): Compute<T[]> {
  return (p, emit) => emit(parent.partition(p).slice());
}
