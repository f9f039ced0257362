// Joins on keys, from a cogroup of the two sides: the four differ only in what a key missing on one side gives.

/** Which keys a join keeps: those on both sides (inner), on the left, on the right, or on either (full). */
export type JoinKind = "inner" | "left" | "right" | "full";

/**
 * The pairs a join gives for one cogrouped key: every left value with every right value, and for a key missing on
 * one side, when the kind keeps it, each value of the other side with `undefined` (Spark's None). A right outer
 * join lists the pairs right value by right value, the others left value by left value (as Spark does).
 */
export function joinGroup<K, V, W>(
  kind: JoinKind,
): (group: [K, [V[], W[]]]) => Array<[K, [V | undefined, W | undefined]]> {
  const keepLeft = kind === "left" || kind === "full";
  const keepRight = kind === "right" || kind === "full";
  return ([k, [vs, ws]]) => {
    const out: Array<[K, [V | undefined, W | undefined]]> = [];
    if (vs.length === 0) {
      if (keepRight) for (const w of ws) out.push([k, [undefined, w]]);
    } else if (ws.length === 0) {
      if (keepLeft) for (const v of vs) out.push([k, [v, undefined]]);
    } else if (kind === "right") {
      for (const w of ws) for (const v of vs) out.push([k, [v, w]]);
    } else {
      for (const v of vs) for (const w of ws) out.push([k, [v, w]]);
    }
    return out;
  };
}
