// A restart after a long down time catches up every batch of it; SIGKILLed at random instants while catching up
// and restarted, it ends exactly where a run without failure ends: every batch ran, each attempt at a batch saw the
// same input, the running total and the windows are exact.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runTs } from "../support/child.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const JOB = path.relative(path.resolve(here, "../.."), path.join(here, "downtime-job.ts"));
const BATCH = 1000;
/** About 5.5 hours of 1 s batches. */
const DOWN = 20_000;
const KILLS = 2;

function lines(file: string): string[] {
  try {
    return readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "");
  } catch {
    return [];
  }
}

describe("down time, SIGKILLed while catching up", () => {
  it("runs every batch once more with the same input, and ends exact", async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-downtime-crash-"));
    const dirs = { checkpoint: path.join(base, "checkpoint"), input: path.join(base, "in") };
    mkdirSync(dirs.input);
    const out = path.join(base, "out.log");
    const first = runTs([JOB, dirs.checkpoint, dirs.input, out, "first"]);
    expect(await first.exited).toBe(0);
    const stopped = 5 * BATCH;
    // Arrived while the job was down: the first batch of the down time reads it.
    writeFileSync(path.join(dirs.input, "late.txt"), "x\ny\nz\n");
    const until = stopped + DOWN * BATCH;

    for (let k = 0; k < KILLS; k++) {
      const done = lines(out).length;
      const target = done + 3 * Math.floor(200 + Math.random() * (DOWN / 2));
      const child = runTs([JOB, dirs.checkpoint, dirs.input, out, "restart", String(until)]);
      const end = Date.now() + 60_000;
      while (lines(out).length < target && Date.now() < end && child.process.exitCode === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await child.stop("SIGKILL"), child.output()).toBe("SIGKILL");
    }
    const last = runTs([JOB, dirs.checkpoint, dirs.input, out, "restart", String(until)]);
    expect(await last.exited, last.output()).toBe(0);
    expect(last.stdout()).toContain("caught up");

    // Every attempt at a batch wrote the same thing; every batch from the first to the last ran.
    const byBatch = new Map<string, Map<number, number>>([
      ["in", new Map()],
      ["total", new Map()],
      ["win", new Map()],
    ]);
    for (const line of lines(out)) {
      const [kind, t, v] = line.split(" ") as [string, string, string];
      const seen = byBatch.get(kind)!;
      const prior = seen.get(Number(t));
      if (prior !== undefined && prior !== Number(v))
        throw new Error(`batch ${t} wrote ${kind} ${prior}, then ${v} when it ran again`);
      seen.set(Number(t), Number(v));
    }
    const records = byBatch.get("in")!;
    for (const kind of ["in", "total", "win"]) expect(byBatch.get(kind)!.size).toBe(5 + DOWN);
    let total = 0;
    for (let t = BATCH; t <= until; t += BATCH) {
      const n = records.get(t);
      if (n === undefined) throw new Error(`batch ${t} never ran`);
      total += n;
      const window = n + (records.get(t - BATCH) ?? 0) + (records.get(t - 2 * BATCH) ?? 0);
      if (byBatch.get("total")!.get(t) !== total) throw new Error(`total at ${t} is not ${total}`);
      if (byBatch.get("win")!.get(t) !== window) throw new Error(`window at ${t} is not ${window}`);
    }
    expect([1, 2, 3, 4, 5].map((k) => records.get(k * BATCH))).toEqual([1, 2, 3, 4, 5]);
    expect(records.get(stopped + BATCH)).toBe(3);
    expect(total).toBe(18);
  }, 240_000);
});
