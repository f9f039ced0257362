// Narrow transformations: each partition is computed from the same partition of the parent, by pushing its records
// through, so that a chain of them fuses into one loop. Each function gives the compute function of the child.
// Each loop handles its function's failures as `RecordFunction` (failures.ts) says, with its own try/catch.
import { failIfAsync, type RecordFunction } from "./failures.js";
import type { ParentRDD } from "./dependencies.js";
import type { Compute } from "./types.js";

export function mapCompute<T, U>(parent: ParentRDD<T>, fn: (x: T) => U, on: RecordFunction): Compute<U> {
  const { failed } = on;
  return (p, emit) => {
    let failures = 0;
    parent.iterate(p, (x) => {
      let y: U;
      try {
        y = fn(x);
      } catch (e) {
        failed(e, x, `${p}:${failures++}`);
        return;
      }
      if (typeof y === "object" && y !== null) failIfAsync(y, on);
      emit(y);
    });
  };
}

export function flatMapCompute<T, U>(
  parent: ParentRDD<T>,
  fn: (x: T) => Iterable<U>,
  on: RecordFunction,
): Compute<U> {
  const { failed } = on;
  return (p, emit) => {
    let failures = 0;
    parent.iterate(p, (x) => {
      let ys: Iterable<U>;
      try {
        ys = fn(x);
      } catch (e) {
        failed(e, x, `${p}:${failures++}`);
        return;
      }
      if (Array.isArray(ys)) for (let i = 0; i < ys.length; i++) emit(ys[i]);
      else {
        failIfAsync(ys, on);
        for (const y of ys) emit(y);
      }
    });
  };
}

export function filterCompute<T>(
  parent: ParentRDD<T>,
  fn: (x: T) => boolean,
  on: RecordFunction,
): Compute<T> {
  const { failed } = on;
  return (p, emit) => {
    let failures = 0;
    parent.iterate(p, (x) => {
      let keep: boolean;
      try {
        keep = fn(x);
      } catch (e) {
        failed(e, x, `${p}:${failures++}`);
        return;
      }
      if (keep === true) emit(x);
      else if (keep) {
        if (typeof keep === "object") failIfAsync(keep, on);
        emit(x);
      }
    });
  };
}

export function mapValuesCompute<K, V, U>(
  parent: ParentRDD<[K, V]>,
  fn: (v: V) => U,
  on: RecordFunction,
): Compute<[K, U]> {
  const { failed } = on;
  return (p, emit) => {
    let failures = 0;
    parent.iterate(p, (kv) => {
      let u: U;
      try {
        u = fn(kv[1]);
      } catch (e) {
        failed(e, kv, `${p}:${failures++}`);
        return;
      }
      if (typeof u === "object" && u !== null) failIfAsync(u, on);
      emit([kv[0], u]);
    });
  };
}

export function flatMapValuesCompute<K, V, U>(
  parent: ParentRDD<[K, V]>,
  fn: (v: V) => Iterable<U>,
  on: RecordFunction,
): Compute<[K, U]> {
  const { failed } = on;
  return (p, emit) => {
    let failures = 0;
    parent.iterate(p, (kv) => {
      let us: Iterable<U>;
      try {
        us = fn(kv[1]);
      } catch (e) {
        failed(e, kv, `${p}:${failures++}`);
        return;
      }
      if (typeof us === "object" && us !== null) failIfAsync(us, on);
      const k = kv[0];
      for (const u of us) emit([k, u]);
    });
  };
}

/** `fn` once per partition with its records as an array (the parent's own array when it is persisted). */
export function mapPartitionsCompute<T, U>(
  parent: ParentRDD<T>,
  fn: (index: number, records: T[]) => Iterable<U>,
): Compute<U> {
  return (p, emit) => {
    const ys = fn(p, parent.partition(p));
    if (Array.isArray(ys)) for (let i = 0; i < ys.length; i++) emit(ys[i]);
    else for (const y of ys) emit(y);
  };
}

/** One array per partition (Spark's glom). */
export function glomCompute<T>(parent: ParentRDD<T>): Compute<T[]> {
  return (p, emit) => emit(parent.partition(p).slice());
}
