// The soak: every stateful operator, one at a time, in a job fed by a receiver with the write-ahead log and
// checkpointing on (the case that once leaked a chain of windows), for 100k batches on a ManualClock, in a child
// process as it normally runs (the optimizing compilers on, --expose-gc for the samples). Reports the slope of the
// heap after a full collection and of RSS over the second half of the run, in bytes per batch: a leak of one small
// object a batch shows as tens of bytes, the chain of windows fixed in 0.1.x as ~27 kB.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { OPERATORS, type SoakOperator, type SoakOptions, type SoakSample } from "../test/soak/soak-job.js";
import { slope } from "../test/soak/slope.js";
import { bySize, type Log, type ScenarioResult, type Size } from "./measure.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SAMPLES = 100;

function soakOne(op: SoakOperator, batches: number, log: Log): Promise<SoakSample[]> {
  const options: SoakOptions = {
    source: "receiver",
    operators: [op],
    batches,
    sampleEvery: Math.max(1, Math.floor(batches / SAMPLES)),
    keys: 1000,
    wordsPerBatch: 50,
    ui: false,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", "test/soak/soak-job.ts", JSON.stringify(options)],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, SPATE_UI_PORT: "0" } },
    );
    const samples: SoakSample[] = [];
    let rest = "";
    let lastReport = performance.now();
    child.stdout!.on("data", (d) => {
      const lines = (rest + String(d)).split("\n");
      rest = lines.pop()!;
      for (const l of lines) if (l.trim() !== "") samples.push(JSON.parse(l) as SoakSample);
      if (performance.now() - lastReport > 10_000 && samples.length > 0) {
        log(`  soak ${op}: batch ${samples.at(-1)!.batch}/${batches}`);
        lastReport = performance.now();
      }
    });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(samples) : reject(new Error(`soak of ${op} exited with ${code}`)),
    );
  });
}

export async function soakScenario(size: Size, log: Log): Promise<ScenarioResult[]> {
  const batches = bySize(size, { full: 100_000, quick: 5_000, smoke: 200 });
  const rows: ScenarioResult[] = [];
  const queue = [...OPERATORS];
  // Two at a time: one process per core.
  const worker = async () => {
    for (let op = queue.shift(); op !== undefined; op = queue.shift()) {
      log(`soak ${op}: ${batches} batches`);
      const started = performance.now();
      const samples = await soakOne(op, batches, log);
      const seconds = (performance.now() - started) / 1000;
      const half = samples.filter((s) => s.batch > batches / 2);
      rows.push({
        name: `soak-${op}`,
        batches,
        batchesPerSec: batches / seconds,
        heapBytesPerBatch: slope(half.map((s) => [s.batch, s.heap])),
        rssBytesPerBatch: slope(half.map((s) => [s.batch, s.rss])),
        heapMb: samples.at(-1)!.heap / 2 ** 20,
      });
    }
  };
  await Promise.all([worker(), worker()]);
  return OPERATORS.map((op) => rows.find((r) => r.name === `soak-${op}`)!);
}
