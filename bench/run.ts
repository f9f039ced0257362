// The benchmark suite behind `npm run bench`: runs every scenario (each in a process of its own), prints progress
// to stderr and a table to stdout, and writes bench/results/latest.json.
//
//   npm run bench                      every scenario, full size
//   npm run bench -- --quick           fewer batches, no 10M- or 30M-key scenario: under 3 minutes
//   npm run bench -- --only wordcount,memory-1M
//   npm run bench -- --out /tmp/r.json (default: bench/results/latest.json)
//   npm run bench -- --only ingest --ingest-lines 1000000   (lines sent to each reader; default 10M, 2M quick)
//   --smoke                            a handful of records per scenario, for tests only: its figures mean nothing
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { RESULT_FIELDS, type ScenarioResult, type Size, stderrLog } from "./measure.js";
import { type BenchmarkUnit, SCENARIO_NAMES, UNITS } from "./scenarios.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const USAGE = `usage: npm run bench -- [--quick | --smoke] [--only <name>[,<name>...]] [--out <file>] [--ingest-lines <n>]
scenarios: ${SCENARIO_NAMES.join(", ")}`;

interface Options {
  size: Size;
  only: string[] | undefined;
  out: string;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      only: { type: "string" },
      out: { type: "string" },
      "ingest-lines": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (values.quick && values.smoke) throw new Error(`--quick and --smoke exclude each other\n${USAGE}`);
  const ingestLines = values["ingest-lines"];
  if (ingestLines !== undefined && !/^[1-9][0-9]*$/.test(ingestLines))
    throw new Error(`--ingest-lines wants a positive integer\n${USAGE}`);
  // The ingest scenario reads it in its own process.
  if (ingestLines !== undefined) process.env.SPATE_BENCH_INGEST_LINES = ingestLines;
  const only = values.only
    ?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = only?.filter((n) => !SCENARIO_NAMES.includes(n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")}\n${USAGE}`);
  return {
    size: values.smoke ? "smoke" : values.quick ? "quick" : "full",
    only: only && only.length > 0 ? only : undefined,
    out: path.resolve(values.out ?? path.join(root, "bench/results/latest.json")),
  };
}

function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cores: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  };
}

/** The commit measured, and whether src/ differed from it (figures of a dirty tree are not that commit's). */
function source(): { commit?: string; srcModified?: boolean } {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
    return {
      commit: git("rev-parse", "HEAD"),
      srcModified: git("status", "--porcelain", "--", "src") !== "",
    };
  } catch {
    return {};
  }
}

/** Runs a unit in a child process (clean heap, its own peak RSS, --expose-gc); resolves with its rows. */
function runUnit(unit: BenchmarkUnit, size: Size): Promise<ScenarioResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--expose-gc",
        "--max-old-space-size=8192",
        "--import",
        "tsx",
        path.join(here, "scenario-process.ts"),
        unit.scenarios[0]!,
        size,
      ],
      {
        cwd: root,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: { ...process.env, SPATE_LOG_LEVEL: process.env.SPATE_LOG_LEVEL ?? "warn" },
      },
    );
    let results: ScenarioResult[] | undefined;
    child.on("message", (m) => {
      results = (m as { results: ScenarioResult[] }).results;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0 && results) resolve(results);
      else reject(new Error(`${unit.scenarios[0]} exited with ${signal ?? code}`));
    });
  });
}

/** Six significant digits: enough for any of these figures, and a readable file. */
function rounded(r: ScenarioResult): ScenarioResult {
  const out: Record<string, unknown> = { name: r.name };
  for (const f of RESULT_FIELDS) {
    const v = r[f];
    if (v !== undefined) out[f] = Number(v.toPrecision(6));
  }
  return out as unknown as ScenarioResult;
}

// ---- the table -------------------------------------------------------------------------------------------------

function count(n: number): string {
  if (n >= 1e6) return `${Number((n / 1e6).toPrecision(3))}M`;
  if (n >= 1e3) return `${Number((n / 1e3).toPrecision(3))}k`;
  return String(Math.round(n));
}

function bytes(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toPrecision(3)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toPrecision(3)} kB`;
  return `${Math.round(n)} B`;
}

function ms(n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

const COLUMNS: Array<[string, (r: ScenarioResult) => string]> = [
  ["scenario", (r) => r.name],
  ["keys", (r) => (r.keys === undefined ? "" : count(r.keys))],
  ["records/s", (r) => (r.recordsPerSec === undefined ? "" : count(r.recordsPerSec))],
  ["baseline/s", (r) => (r.baselineRecordsPerSec === undefined ? "" : count(r.baselineRecordsPerSec))],
  ["ratio", (r) => (r.ratio === undefined ? "" : r.ratio.toPrecision(2))],
  ["cpu ratio", (r) => (r.cpuRatio === undefined ? "" : r.cpuRatio.toPrecision(2))],
  ["p50 ms", (r) => (r.p50BatchMs === undefined ? "" : ms(r.p50BatchMs))],
  ["p99 ms", (r) => (r.p99BatchMs === undefined ? "" : ms(r.p99BatchMs))],
  ["sched p99 ms", (r) => (r.p99SchedulingDelayMs === undefined ? "" : ms(r.p99SchedulingDelayMs))],
  ["checkpoint", (r) => (r.checkpointBytes === undefined ? "" : bytes(r.checkpointBytes))],
  ["changed", (r) => (r.changedBytes === undefined ? "" : bytes(r.changedBytes))],
  ["ckpt ms", (r) => (r.checkpointMs === undefined ? "" : ms(r.checkpointMs))],
  ["recovery ms", (r) => (r.recoveryMs === undefined ? "" : ms(r.recoveryMs))],
  ["log MB/s", (r) => (r.logMBPerSec === undefined ? "" : r.logMBPerSec.toFixed(0))],
  ["disk MB/s", (r) => (r.diskMBPerSec === undefined ? "" : r.diskMBPerSec.toFixed(0))],
  ["store p99 ms", (r) => (r.p99StoreMs === undefined ? "" : ms(r.p99StoreMs))],
  ["B/key", (r) => (r.bytesPerKey === undefined ? "" : r.bytesPerKey.toFixed(0))],
  ["Map B/key", (r) => (r.baselineBytesPerKey === undefined ? "" : r.baselineBytesPerKey.toFixed(0))],
  ["RSS MB", (r) => (r.peakRssMb === undefined ? "" : r.peakRssMb.toFixed(0))],
  ["batches", (r) => (r.batches === undefined ? "" : count(r.batches))],
  ["batches/s", (r) => (r.batchesPerSec === undefined ? "" : count(r.batchesPerSec))],
  ["heap B/batch", (r) => (r.heapBytesPerBatch === undefined ? "" : r.heapBytesPerBatch.toFixed(1))],
  ["RSS B/batch", (r) => (r.rssBytesPerBatch === undefined ? "" : r.rssBytesPerBatch.toFixed(0))],
  ["heap MB", (r) => (r.heapMb === undefined ? "" : r.heapMb.toFixed(1))],
];

/** A Markdown table (readable in a terminal, pasteable into docs). */
function table(rows: readonly ScenarioResult[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`;
  return [line(COLUMNS.map(([h]) => h)), rule, ...cells.map(line)].join("\n");
}

// ---- main ------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const units = UNITS.filter((u) =>
    opts.only ? u.scenarios.some((s) => opts.only!.includes(s)) : u.sizes.includes(opts.size),
  );
  const info = machine();
  const started = performance.now();
  stderrLog(
    `spate benchmarks (${opts.size}) on ${info.cpuModel}, ${info.cores} cores, node ${info.node}: ` +
      units.flatMap((u) => u.scenarios).join(", "),
  );
  const scenarios: ScenarioResult[] = [];
  const failures: Array<{ scenario: string; error: string }> = [];
  for (const u of units) {
    const unitStarted = performance.now();
    try {
      const rows = await runUnit(u, opts.size);
      // Asked for by its first name, a unit gives all its rows; otherwise only the rows asked for.
      const whole = !opts.only || opts.only.includes(u.scenarios[0]!);
      scenarios.push(...rows.filter((r) => whole || opts.only!.includes(r.name)).map(rounded));
      stderrLog(
        `${u.scenarios.join(", ")}: done in ${((performance.now() - unitStarted) / 1000).toFixed(1)} s`,
      );
    } catch (e) {
      failures.push({ scenario: u.scenarios[0]!, error: (e as Error).message });
      stderrLog(`${u.scenarios.join(", ")}: FAILED (${(e as Error).message})`);
    }
  }
  const report = {
    machine: info,
    mode: opts.size,
    ...source(),
    durationSec: Math.round((performance.now() - started) / 100) / 10,
    scenarios,
    ...(failures.length > 0 ? { failures } : {}),
  };
  mkdirSync(path.dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${table(scenarios)}\n\n`);
  process.stdout.write(
    "ratio: baseline cost / engine cost (engine over hand-written throughput; for checkpoints, changed bytes " +
      "over written bytes; for memory, Map bytes over state bytes per key). 1 = as cheap as the baseline.\n",
  );
  const shown = path.relative(process.cwd(), opts.out);
  stderrLog(`wrote ${shown.startsWith("..") ? opts.out : shown} in ${report.durationSec} s`);
  if (failures.length > 0)
    stderrLog(`${failures.length} unit(s) failed: ${failures.map((f) => f.scenario).join(", ")}`);
  return failures.length > 0 ? 1 : 0;
}

process.exitCode = await main();
