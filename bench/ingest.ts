// Ingest: how close receivers and the write-ahead log come to the socket and the disk. A sender in a process of its
// own writes the same stream of short lines (about 40 bytes) over loopback to each reader in turn, as fast as it
// takes them: a hand-written Node line reader (the baseline: `socket.on("data")`, split on `\n`, count),
// `socketTextStream(...).count()`, and the same with `spate.receiver.writeAheadLog.enable`. Then the disk's fsynced
// write bandwidth is measured (1 MiB writes, `fdatasync` at the end, as `dd conv=fdatasync`) in the directory the
// log was written to, so that the log's MB/s can be set against it.
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type BatchInfo, SocketReceiver, StreamingContext } from "spate";
import {
  bySize,
  collectGarbage,
  type Log,
  peakRssMb,
  percentile,
  quietLogger,
  type ScenarioResult,
  type Size,
} from "./measure.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const HOST = "127.0.0.1";
const BATCH_MS = 500;
const MIB = 1 << 20;

/** Lines sent to each reader: by size, or `SPATE_BENCH_INGEST_LINES` (`npm run bench -- --ingest-lines <n>`). */
export function ingestLines(size: Size): number {
  const asked = process.env.SPATE_BENCH_INGEST_LINES;
  if (asked !== undefined && asked !== "") {
    const n = Number(asked);
    if (!Number.isSafeInteger(n) || n <= 0)
      throw new Error(`--ingest-lines wants a positive integer, got ${asked}`);
    return n;
  }
  return bySize(size, { full: 10_000_000, quick: 2_000_000, smoke: 20_000 });
}

/** CPU time (user and system, every thread of this process) since `from`, per line. */
function cpuNsPerLine(from: NodeJS.CpuUsage, lines: number): number {
  const { user, system } = process.cpuUsage(from);
  return ((user + system) * 1000) / lines;
}

/** Starts the sender; resolves with its port. */
function startSender(lines: number): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(here, "ingest-server.ts"), String(lines)],
    { stdio: ["ignore", "pipe", "inherit", "ipc"] },
  );
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("\n")) resolve({ port: Number(out.trim()), child });
    });
    child.once("exit", (code) => reject(new Error(`the ingest sender exited with ${code}`)));
    child.once("error", reject);
  });
}

/** The baseline: reads the stream to its end, counting lines. Resolves with the wall time in ms. */
function rawReader(port: number, expected: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let lines = 0;
    const socket = net.connect({ host: HOST, port });
    socket.on("data", (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    });
    socket.on("end", () => {
      const ms = performance.now() - started;
      if (lines === expected) resolve(ms);
      else reject(new Error(`raw reader counted ${lines} lines, expected ${expected}`));
    });
    socket.on("error", reject);
  });
}

/**
 * The socket receiver behind `socketTextStream`, timing what it stores through its `onStored` hook: when it started,
 * when the last expected line was stored, and each read's store from the call to the records counting as received
 * (with the log: durable).
 */
class TimedSocketReceiver extends SocketReceiver {
  startedAt = 0;
  lastStoredAt = 0;
  stored = 0;
  readonly storeMs: number[] = [];

  constructor(
    port: number,
    private readonly expected: number,
    private readonly allStored: () => void,
  ) {
    super(HOST, port);
  }

  override onStart(): void {
    if (this.startedAt === 0) this.startedAt = performance.now();
    super.onStart();
  }

  protected override onStored(lines: number, storeMs: number): void {
    this.storeMs.push(storeMs);
    this.stored += lines;
    if (this.stored >= this.expected && this.lastStoredAt === 0) {
      this.lastStoredAt = performance.now();
      this.allStored();
    }
  }
}

interface EngineRun {
  ms: number;
  storeMs: number[];
  batches: BatchInfo[];
}

/** `socketTextStream(...).count()` (the same receiver, timed), with or without the log, to the last line stored. */
async function engineRun(
  port: number,
  expected: number,
  logDir: string | undefined,
  log: Log,
): Promise<EngineRun> {
  const ssc = new StreamingContext({
    batchDuration: BATCH_MS,
    logger: quietLogger(),
    conf: {
      "spate.ui.port": 0,
      "spate.receiver.writeAheadLog.enable": logDir !== undefined,
      // The sender closes after the last line: no reconnection while the run finishes.
      "spate.receiver.restartDelay": 600_000,
      "spate.receiver.maxRestartDelay": 600_000,
    },
  });
  if (logDir !== undefined) ssc.checkpoint(logDir);
  const batches: BatchInfo[] = [];
  ssc.addStreamingListener({ onBatchCompleted: ({ batchInfo }) => void batches.push(batchInfo) });
  let stored!: () => void;
  const allStored = new Promise<void>((resolve) => (stored = resolve));
  let counted = 0;
  let doneCounting!: () => void;
  const allCounted = new Promise<void>((resolve) => (doneCounting = resolve));
  const receiver = new TimedSocketReceiver(port, expected, stored);
  ssc
    .receiverStream(receiver)
    .count()
    .foreachRDD(async (rdd) => {
      for (const n of await rdd.collect()) counted += n;
      if (counted >= expected) doneCounting();
    });
  await ssc.start();
  const progress = setInterval(() => log(`  ${receiver.stored} lines stored, ${counted} counted`), 2000);
  await allStored;
  const ms = receiver.lastStoredAt - receiver.startedAt;
  await allCounted;
  clearInterval(progress);
  await ssc.stop();
  if (counted !== expected) throw new Error(`count() gave ${counted} lines, expected ${expected}`);
  if (receiver.malformedLines > 0) throw new Error(`${receiver.malformedLines} malformed lines`);
  return { ms, storeMs: receiver.storeMs, batches };
}

function bytesUnder(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(path.join(entry.parentPath ?? entry.path, entry.name)).size;
  }
  return total;
}

/** Writes `bytes` in 1 MiB writes and fdatasyncs once (as `dd bs=1M conv=fdatasync`); returns MB/s. */
function diskBandwidth(dir: string, bytes: number): number {
  const chunk = Buffer.alloc(MIB, 0x61);
  const file = path.join(dir, "disk-probe");
  const started = performance.now();
  const fd = openSync(file, "w");
  for (let written = 0; written < bytes; written += MIB) writeSync(fd, chunk);
  fdatasyncSync(fd);
  closeSync(fd);
  const ms = performance.now() - started;
  rmSync(file);
  return bytes / 1e6 / (ms / 1000);
}

const linesPerSec = (lines: number, ms: number) => lines / (ms / 1000);

export async function ingest(size: Size, log: Log): Promise<ScenarioResult[]> {
  const lines = ingestLines(size);
  const diskBytes = bySize(size, { full: 1000 * MIB, quick: 256 * MIB, smoke: 8 * MIB });
  const dir = mkdtempSync(path.join(tmpdir(), "spate-bench-ingest-"));
  const { port, child } = await startSender(lines);
  try {
    log(`ingest: ${lines} lines over loopback to each reader`);
    await rawReader(port, lines); // warm-up: the sender and the reader compiled, the connection path warm
    // CPU time per line (this process, every thread) moves far less than wall time on a shared machine.
    let cpu = process.cpuUsage();
    const rawMs = await rawReader(port, lines);
    const rawCpu = cpuNsPerLine(cpu, lines);
    const raw = linesPerSec(lines, rawMs);
    log(`ingest: raw line reader ${(raw / 1e6).toFixed(2)}M lines/s, ${rawCpu.toFixed(0)} ns CPU a line`);
    collectGarbage();

    cpu = process.cpuUsage();
    const plain = await engineRun(port, lines, undefined, log);
    const plainCpu = cpuNsPerLine(cpu, lines);
    const plainRate = linesPerSec(lines, plain.ms);
    const plainPeak = peakRssMb();
    log(
      `ingest: socketTextStream ${(plainRate / 1e6).toFixed(2)}M lines/s (${(plainRate / raw).toFixed(2)} of raw), ` +
        `store p99 ${percentile(plain.storeMs, 99).toFixed(2)} ms, ${plainCpu.toFixed(0)} ns CPU a line ` +
        `(raw / engine ${(rawCpu / plainCpu).toFixed(2)})`,
    );
    collectGarbage();

    const logDir = path.join(dir, "checkpoint");
    cpu = process.cpuUsage();
    const logged = await engineRun(port, lines, logDir, log);
    const loggedCpu = cpuNsPerLine(cpu, lines);
    const loggedRate = linesPerSec(lines, logged.ms);
    const loggedPeak = peakRssMb();
    const logBytes = bytesUnder(path.join(logDir, "receivedData"));
    const logMBPerSec = logBytes / 1e6 / (logged.ms / 1000);
    const diskMBPerSec = diskBandwidth(dir, diskBytes);
    log(
      `ingest: with the write-ahead log ${(loggedRate / 1e6).toFixed(2)}M lines/s (${(loggedRate / raw).toFixed(2)} ` +
        `of raw), log ${logMBPerSec.toFixed(0)} MB/s of the disk's ${diskMBPerSec.toFixed(0)} MB/s fsynced ` +
        `(${((100 * logMBPerSec) / diskMBPerSec).toFixed(0)} %), store-to-durable p50 ` +
        `${percentile(logged.storeMs, 50).toFixed(2)} ms, p99 ${percentile(logged.storeMs, 99).toFixed(2)} ms ` +
        `(batch interval ${BATCH_MS} ms), ${loggedCpu.toFixed(0)} ns CPU a line (raw / engine ` +
        `${(rawCpu / loggedCpu).toFixed(2)})`,
    );
    for (const [what, run] of [
      ["socketTextStream", plain],
      ["with the log", logged],
    ] as const) {
      const processing = run.batches.filter((b) => b.numRecords > 0).map((b) => b.processingDelay ?? 0);
      if (processing.length > 0) {
        log(
          `ingest: ${what}: ${processing.length} batches with lines, processing p50 ` +
            `${percentile(processing, 50)} ms, p99 ${percentile(processing, 99)} ms`,
        );
      }
    }
    return [
      {
        name: "ingest",
        recordsPerSec: plainRate,
        baselineRecordsPerSec: raw,
        ratio: plainRate / raw,
        p99StoreMs: percentile(plain.storeMs, 99),
        batchIntervalMs: BATCH_MS,
        peakRssMb: plainPeak,
      },
      {
        name: "ingest-wal",
        recordsPerSec: loggedRate,
        baselineRecordsPerSec: raw,
        ratio: loggedRate / raw,
        logMBPerSec,
        diskMBPerSec,
        p99StoreMs: percentile(logged.storeMs, 99),
        batchIntervalMs: BATCH_MS,
        peakRssMb: loggedPeak,
      },
    ];
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
