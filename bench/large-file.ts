// A file larger than the longest string V8 can build (512 MiB) read by textFileStream in one batch: its lines are
// streamed, so it is read at all, in memory that does not grow with the file. Not part of `npm run bench` (it
// writes a file of that size); run it by hand:
//
//   npx tsx bench/large-file.ts [MiB, default 600]
//
// It prints the engine's time and peak RSS for a job counting the file's lines and characters, and the same for
// the baseline: a hand-written loop over the same file with node:readline.
import { once } from "node:events";
import {
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { type Logger, ManualClock, StreamingContext } from "spate";

const mib = Number(process.argv[2] ?? 600);
const base = mkdtempSync(path.join(tmpdir(), "spate-bench-large-file-"));
const input = path.join(base, "input");
const staged = path.join(base, "big.txt");

function write(): { lines: number; chars: number } {
  const fd = openSync(staged, "w");
  let lines = 0;
  let chars = 0;
  let bytes = 0;
  const target = mib * 2 ** 20;
  while (bytes < target) {
    const block: string[] = [];
    for (let i = 0; i < 10_000; i++, lines++) {
      const line = `line ${lines} ${"abcdefghij".repeat(lines % 12)} é`;
      chars += line.length;
      block.push(line);
    }
    const text = `${block.join("\n")}\n`;
    bytes += writeSync(fd, text);
  }
  closeSync(fd);
  return { lines, chars };
}

let peak = 0;
const sample = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage.rss());
}, 20);
const mb = (b: number) => Math.round(b / 2 ** 20);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

try {
  const expected = write();
  process.stderr.write(`wrote ${mib} MiB, ${expected.lines} lines\n`);
  mkdirSync(input);

  peak = process.memoryUsage.rss();
  const clock = new ManualClock(0);
  const ssc = new StreamingContext({
    batchDuration: 1000,
    clock,
    logger: quiet,
    conf: { "spate.ui.port": 0 },
  });
  let counted: [number, number] = [0, 0];
  ssc
    .textFileStream(input)
    .map((l) => [1, l.length] as [number, number])
    .reduce((a, b) => [a[0] + b[0], a[1] + b[1]])
    .foreachRDD(async (rdd) => {
      for (const r of await rdd.collect()) counted = r;
    });
  await ssc.start();
  renameSync(staged, path.join(input, "big.txt"));
  let started = performance.now();
  clock.advance(1000);
  await ssc.awaitIdle();
  const engineMs = performance.now() - started;
  await ssc.stop();
  const enginePeak = peak;
  if (counted[0] !== expected.lines || counted[1] !== expected.chars) {
    throw new Error(`the engine counted ${counted} instead of ${expected.lines},${expected.chars}`);
  }

  peak = process.memoryUsage.rss();
  started = performance.now();
  let lines = 0;
  let chars = 0;
  const rl = createInterface({ input: createReadStream(path.join(input, "big.txt")), crlfDelay: Infinity });
  rl.on("line", (l) => {
    lines++;
    chars += l.length;
  });
  await once(rl, "close");
  const baselineMs = performance.now() - started;
  if (lines !== expected.lines || chars !== expected.chars) throw new Error("the baseline miscounted");

  process.stdout.write(
    `${mib} MiB, ${expected.lines} lines in one file, one batch (the engine reads it twice: once to count the ` +
      `batch's input records, once for the job)\n` +
      `engine:   ${Math.round(engineMs)} ms, peak RSS ${mb(enginePeak)} MiB\n` +
      `baseline: ${Math.round(baselineMs)} ms, peak RSS ${mb(peak)} MiB (node:readline over a read stream)\n` +
      `ratio (baseline time / engine time): ${(baselineMs / engineMs).toFixed(2)}\n`,
  );
} finally {
  clearInterval(sample);
  rmSync(base, { recursive: true, force: true });
}
