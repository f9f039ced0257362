// The benchmark suite runs end to end (at --smoke size: a handful of records per scenario) and writes results in
// the documented schema. No figure is asserted beyond being a finite positive number consistent with the others:
// timing assertions would be flaky on a shared machine.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(path.join(tmpdir(), "spate-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const FIELDS = [
  "recordsPerSec",
  "baselineRecordsPerSec",
  "ratio",
  "cpuRatio",
  "p50BatchMs",
  "p99BatchMs",
  "keys",
  "checkpointBytes",
  "changedBytes",
  "checkpointMs",
  "recoveryMs",
  "batchesPerSec",
  "p99SchedulingDelayMs",
  "bytesPerKey",
  "baselineBytesPerKey",
  "logMBPerSec",
  "diskMBPerSec",
  "p99StoreMs",
  "batchIntervalMs",
  "peakRssMb",
  "heapMb",
];
const THROUGHPUT = [
  "recordsPerSec",
  "baselineRecordsPerSec",
  "ratio",
  "p50BatchMs",
  "p99BatchMs",
  "peakRssMb",
];
const KEYED = [...THROUGHPUT, "keys"];
/** The scenarios that compare batch by batch with a loop in the same process also give a CPU-time ratio. */
const COMPARED = [...THROUGHPUT, "cpuRatio"];
const COMPARED_KEYED = [...KEYED, "cpuRatio"];
const CHECKPOINT = ["keys", "checkpointBytes", "changedBytes", "checkpointMs", "ratio", "peakRssMb"];
/** Every scenario but latency-10ms and the 10M-key ones (not part of --smoke), in order, with its fields. */
const EXPECTED: Record<string, string[]> = {
  wordcount: COMPARED,
  "wordcount-words": COMPARED,
  "running-sum-checkpointed": [...KEYED, "checkpointBytes", "checkpointMs"],
  "mapWithState-10k": COMPARED_KEYED,
  "mapWithState-1M": COMPARED_KEYED,
  "mapWithState-sums-1M": COMPARED_KEYED,
  "updateStateByKey-10k": COMPARED_KEYED,
  "updateStateByKey-1M": COMPARED_KEYED,
  "checkpoint-delta-1M": CHECKPOINT,
  "checkpoint-full-1M": CHECKPOINT,
  "recovery-1M": ["keys", "recoveryMs", "peakRssMb"],
  "backend-lmdb-vs-memory": KEYED,
  "backend-lmdb-many": ["keys", "ratio", "p50BatchMs", "p99BatchMs", "heapMb", "peakRssMb"],
  "backend-checkpoint-many": [...CHECKPOINT, "heapMb"],
  "backend-recovery-many": ["keys", "recoveryMs", "peakRssMb"],
  "catch-up-1d": ["keys", "batchesPerSec", "checkpointBytes", "recoveryMs", "peakRssMb"],
  "window-inverse": COMPARED_KEYED,
  "window-naive": COMPARED_KEYED,
  "memory-1M": ["keys", "bytesPerKey", "baselineBytesPerKey", "ratio", "peakRssMb"],
  "memory-30M": ["keys", "p50BatchMs", "p99BatchMs", "bytesPerKey", "heapMb", "peakRssMb"],
  ingest: ["recordsPerSec", "baselineRecordsPerSec", "ratio", "p99StoreMs", "batchIntervalMs", "peakRssMb"],
  "ingest-wal": [
    "recordsPerSec",
    "baselineRecordsPerSec",
    "ratio",
    "logMBPerSec",
    "diskMBPerSec",
    "p99StoreMs",
    "batchIntervalMs",
    "peakRssMb",
  ],
};

type Row = Record<string, number> & { name: string };

describe("npm run bench", () => {
  it("runs every scenario at --smoke size and writes the results schema", async () => {
    const out = path.join(dir, "latest.json");
    const { code, stdout, stderr } = await bench(["--smoke", "--out", out]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      machine: Record<string, unknown>;
      mode: string;
      scenarios: Row[];
    };
    expect(report.mode).toBe("smoke");
    const m = report.machine;
    expect(typeof m.cpuModel === "string" && m.cpuModel !== "").toBe(true);
    expect(Number.isInteger(m.cores) && (m.cores as number) > 0).toBe(true);
    expect(m.memoryGb).toBeGreaterThan(0);
    expect(m.node).toBe(process.version);
    expect(Number.isNaN(Date.parse(m.date as string))).toBe(false);

    expect(report.scenarios.map((s) => s.name)).toEqual(Object.keys(EXPECTED));
    for (const row of report.scenarios) {
      const fields = Object.keys(row).filter((k) => k !== "name");
      expect(fields.sort(), row.name).toEqual([...EXPECTED[row.name]!].sort());
      for (const f of fields) {
        expect(FIELDS).toContain(f);
        const v = row[f]!;
        expect(typeof v === "number" && Number.isFinite(v) && v > 0, `${row.name}.${f} = ${v}`).toBe(true);
      }
      if (row.recordsPerSec !== undefined) {
        expect(row.ratio).toBeCloseTo(row.recordsPerSec / row.baselineRecordsPerSec!, 3);
        if (row.p50BatchMs !== undefined) expect(row.p50BatchMs).toBeLessThanOrEqual(row.p99BatchMs!);
      }
      // The table on stdout has a line for every scenario.
      expect(stdout).toMatch(new RegExp(`^\\| ${row.name} +\\|`, "m"));
    }
    const byName = new Map(report.scenarios.map((s) => [s.name, s]));
    const full = byName.get("checkpoint-full-1M")!;
    const delta = byName.get("checkpoint-delta-1M")!;
    // 1% of the keys changed: a delta writes less than a full snapshot of the same keys.
    expect(delta.checkpointBytes).toBeLessThan(full.checkpointBytes!);
    expect(full.changedBytes).toBe(delta.changedBytes);
    expect(full.ratio).toBeCloseTo(full.changedBytes! / full.checkpointBytes!, 3);
    const memory = byName.get("memory-1M")!;
    expect(memory.ratio).toBeCloseTo(memory.baselineBytesPerKey! / memory.bytesPerKey!, 3);
  }, 60_000);

  it("runs only the scenarios named by --only, even one of a unit that gives several rows", async () => {
    const out = path.join(dir, "only.json");
    const { code, stderr } = await bench(["--smoke", "--only", "window-inverse,recovery-1M", "--out", out]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, "utf8")) as { scenarios: Row[] };
    expect(report.scenarios.map((s) => s.name)).toEqual(["recovery-1M", "window-inverse"]);
  }, 60_000);

  it("rejects an unknown scenario, naming the known ones", async () => {
    const { code, stderr } = await bench(["--smoke", "--only", "wordcount,no-such-scenario"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown scenario no-such-scenario");
    expect(stderr).toContain("mapWithState-10M");
  });
});
