// Typed state, tested for real: a job whose state is instances of registered classes (one of them changed in place
// without update()) is SIGKILLed at random instants and restarted from its checkpoint; after the last run, its
// state equals the counts of all the input, computed through the classes' methods, as a run that never failed.
import { type ChildProcess, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const JOB = path.join(here, "typed-state-job.ts");
const KILLS = 8;
const BATCH = 200;
const VOCABULARY = Array.from({ length: 12 }, (_, i) => `w${i}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnJob(dirs: { checkpoint: string; input: string; output: string }, mode: "crash" | "final") {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", JOB, dirs.checkpoint, dirs.input, dirs.output, mode],
    {
      cwd: root,
      env: { ...process.env, SPATE_LOG_LEVEL: "warn" },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const log: string[] = [];
  child.stderr!.on("data", (d) => log.push(String(d)));
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      log.push(String(d));
      if (String(d).includes("started")) resolve();
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`job exited (${code ?? signal}):\n${log.join("")}`)),
    );
  });
  started.catch(() => {});
  return { child, started, log };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

function counts(lines: string[]): Array<[string, number]> {
  const out = new Map<string, number>();
  for (const l of lines) for (const w of l.split(" ").slice(1)) out.set(w, (out.get(w) ?? 0) + 1);
  return [...out].sort(([a], [b]) => (a < b ? -1 : 1));
}

describe("typed state across crashes", () => {
  it(`keeps registered class instances, changed in place, exact across ${KILLS} SIGKILLs`, {
    timeout: 120_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-crash-typed-"));
    const dirs = {
      checkpoint: path.join(base, "checkpoint"),
      input: path.join(base, "input"),
      output: path.join(base, "output"),
    };
    for (const d of [dirs.input, dirs.output]) mkdirSync(d, { recursive: true });
    let seed = Number(process.env.SPATE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`typed-state crash test seed: ${seed}`);
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const allLines: string[] = [];
    let files = 0;
    const writeFile = () => {
      const name = `part-${String(files++).padStart(5, "0")}.txt`;
      const lines = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => {
        const words = Array.from(
          { length: 1 + Math.floor(random() * 4) },
          () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
        );
        return `${name}:${i} ${words.join(" ")}`;
      });
      allLines.push(...lines);
      writeFileSync(path.join(dirs.input, `.${name}.tmp`), `${lines.join("\n")}\n`);
      renameSync(path.join(dirs.input, `.${name}.tmp`), path.join(dirs.input, name));
    };
    // textFileStream skips the files already there at the first start (newFilesOnly): files are written from the
    // first checkpoint on, so that every later start restores and reads every file not read yet.
    let writer: NodeJS.Timeout | undefined;
    const failures: string[] = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        const { child, started, log } = spawnJob(dirs, "crash");
        if (k % 4 === 3)
          await sleep(150 + random() * 400); // often during startup and recovery
        else {
          await started.catch((e) => failures.push(String(e)));
          if (!writer) {
            const checkpointed = () =>
              existsSync(dirs.checkpoint) &&
              readdirSync(dirs.checkpoint).some((n) => n.startsWith("metadata-"));
            for (let waited = 0; waited < 30_000 && !checkpointed(); waited += 10) await sleep(10);
            writer = setInterval(writeFile, 60);
          }
          await sleep(200 + random() * 900);
        }
        if (child.exitCode !== null) failures.push(`run ${k} exited by itself: ${log.join("")}`);
        child.kill("SIGKILL");
        await exited(child);
      }
    } finally {
      clearInterval(writer);
    }
    expect(allLines.length).toBeGreaterThan(20);
    expect(failures).toEqual([]);

    const final = spawnJob(dirs, "final");
    await final.started;
    await sleep(8 * BATCH);
    final.child.stdin!.write("stop\n");
    expect(await exited(final.child), final.log.join("")).toBe(0);

    const times = readdirSync(dirs.output)
      .filter((n) => /^tallies-\d+\.json$/.test(n))
      .map((n) => Number(n.slice("tallies-".length, -".json".length)))
      .sort((a, b) => a - b);
    const last = times.at(-1)!;
    const read = (name: string, t: number) =>
      JSON.parse(readFileSync(path.join(dirs.output, `${name}-${t}.json`), "utf8")) as Array<
        [string, number]
      >;
    const expected = counts(allLines);
    expect(read("tallies", last)).toEqual(expected);
    expect(read("sessions", last)).toEqual(expected);
    // The last window counts the words of its three batches.
    const windowLines = [last - 2 * BATCH, last - BATCH, last].flatMap((t) =>
      existsSync(path.join(dirs.output, `input-${t}.json`)) ? (read("input", t) as unknown as string[]) : [],
    );
    expect(read("window", last).filter(([, n]) => n !== 0)).toEqual(counts(windowLines));
  });
});
