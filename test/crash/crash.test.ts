// Fault tolerance, tested for real: the job runs as a child process over input files arriving over time, is
// SIGKILLed at random instants (some during recovery, some inside checkpoint writes thanks to a slow store) and
// restarted with getOrCreate each time, some restarts with another parallelism (state is redistributed). The end
// state must equal a run that never failed.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
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
const JOB = path.join(here, "wordcount-job.ts");
const KILLS = 20;
const BATCH = 200;
const VOCABULARY = Array.from({ length: 40 }, (_, i) => `w${i}`);

function spawnJob(
  dirs: Dirs,
  mode: "crash" | "final",
  parallelism: number,
  badRecords: boolean,
): { child: ChildProcess; started: Promise<void>; log: string[] } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", JOB, dirs.checkpoint, dirs.input, dirs.output, mode, String(parallelism)],
    {
      cwd: root,
      env: {
        ...process.env,
        SPATE_LOG_LEVEL: "warn",
        ...(badRecords ? { SPATE_CRASH_BAD_RECORDS: "1" } : {}),
      },
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
      reject(new Error(`job exited (${code ?? signal}) before starting:\n${log.join("")}`)),
    );
  });
  started.catch(() => {});
  return { child, started, log };
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Dirs {
  checkpoint: string;
  input: string;
  output: string;
}

function parseTuples(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((n) => n.startsWith("part-"))) {
    for (const line of readFileSync(path.join(dir, f), "utf8").split("\n")) {
      if (line === "") continue;
      const m = /^\((.*),(-?\d+)\)$/.exec(line);
      if (!m) throw new Error(`unexpected line ${line} in ${dir}`);
      expect(out.has(m[1]!)).toBe(false);
      out.set(m[1]!, Number(m[2]));
    }
  }
  return out;
}

function readLines(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith("part-"))
    .flatMap((f) =>
      readFileSync(path.join(dir, f), "utf8")
        .split("\n")
        .filter((l) => l !== ""),
    );
}

/** A line the job's function throws on (with bad records on): dropped, so counted nowhere. */
const isPoison = (line: string) => line.includes(" poison");

function countWords(lines: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines.filter((x) => !isPoison(x)))
    for (const w of l.split(" ")) if (w) counts.set(w, (counts.get(w) ?? 0) + 1);
  return counts;
}

const sorted = (m: Map<string, number>) =>
  [...m].filter(([, n]) => n !== 0).sort(([a], [b]) => (a < b ? -1 : 1));

describe("crash recovery", () => {
  it(`keeps state exactly-once across ${KILLS} SIGKILLs of the job`, { timeout: 120_000 }, async () => {
    await crashRun(KILLS, false);
  });

  it("with bad records dropped (spate.errors.onRecordFailure deadLetter), keeps the others exactly-once and writes each bad record once across SIGKILLs", {
    timeout: 120_000,
  }, async () => {
    await crashRun(8, true);
  });
});

async function crashRun(kills: number, badRecords: boolean): Promise<void> {
  {
    const base = mkdtempSync(path.join(tmpdir(), "spate-crash-"));
    const dirs: Dirs = {
      checkpoint: path.join(base, "checkpoint"),
      input: path.join(base, "input"),
      output: path.join(base, "output"),
    };
    for (const d of [dirs.input, dirs.output]) mkdirSync(d, { recursive: true });
    const allLines: string[] = [];
    let files = 0;
    // A fresh seed every run; SPATE_CRASH_SEED=<n> replays one.
    let seed = Number(process.env.SPATE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`crash test seed: ${seed}`);
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const writeFile = () => {
      const name = `part-${String(files++).padStart(5, "0")}.txt`;
      const lines = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, i) => {
        const words = Array.from(
          { length: 1 + Math.floor(random() * 6) },
          () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
        );
        const poison = badRecords && random() < 0.15 ? " poison" : "";
        return `${name}:${i}${poison} ${words.join(" ")}`;
      });
      allLines.push(...lines);
      const tmp = path.join(dirs.input, `.${name}.tmp`);
      writeFileSync(tmp, `${lines.join("\n")}\n`);
      renameSync(tmp, path.join(dirs.input, name));
    };
    // textFileStream skips the files already there at the first start (newFilesOnly): files are written from the
    // first checkpoint on, so that every later start restores and reads every file not read yet.
    let writer: NodeJS.Timeout | undefined;
    const failures: string[] = [];
    // Some restarts change the parallelism (1 to 4): the state of every stateful operator then moves.
    let parallelism = 2;
    const parallelisms: number[] = [];
    const maybeRescale = () => {
      if (random() < 0.3) parallelism = 1 + Math.floor(random() * 4);
      parallelisms.push(parallelism);
      return parallelism;
    };
    try {
      for (let k = 0; k < kills; k++) {
        const { child, started, log } = spawnJob(dirs, "crash", maybeRescale(), badRecords);
        if (k % 5 === 4) {
          await sleep(150 + random() * 400); // often during startup and recovery
        } else {
          await started.catch((e) => failures.push(String(e)));
          if (!writer) {
            const checkpointed = () =>
              existsSync(dirs.checkpoint) &&
              readdirSync(dirs.checkpoint).some((n) => n.startsWith("metadata-"));
            for (let waited = 0; waited < 30_000 && !checkpointed(); waited += 10) await sleep(10);
            writer = setInterval(writeFile, 45);
          }
          await sleep(random() * 900);
        }
        if (child.exitCode !== null) failures.push(`run ${k} exited by itself: ${log.join("")}`);
        child.kill("SIGKILL");
        await exited(child);
      }
    } finally {
      clearInterval(writer);
    }
    expect(failures).toEqual([]);
    console.log(`crash test parallelism per run: ${parallelisms.join(" ")}`);

    const final = spawnJob(dirs, "final", parallelism === 3 ? 2 : 3, badRecords);
    await final.started;
    await sleep(8 * BATCH);
    final.child.stdin!.write("stop\n");
    expect(await exited(final.child)).toBe(0);

    // Nothing lost, nothing read twice: the inputs saved by all batches are exactly the lines of all files.
    const inputDirs = readdirSync(dirs.output).filter((n) => n.startsWith("input-") && !n.startsWith("."));
    const times = inputDirs.map((n) => Number(n.slice("input-".length))).sort((a, b) => a - b);
    const inputOf = new Map(times.map((t) => [t, readLines(path.join(dirs.output, `input-${t}`))]));
    expect([...inputOf.values()].flat().sort()).toEqual([...allLines].sort());

    // Every batch recorded complete has all its outputs.
    const completed = readFileSync(path.join(dirs.output, "completed.log"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map(Number);
    expect(completed.length).toBeGreaterThan(20);
    for (const t of completed) {
      for (const name of ["input", "totals", "sessions", "window"]) {
        expect(existsSync(path.join(dirs.output, `${name}-${t}`, "_SUCCESS")), `${name}-${t}`).toBe(true);
      }
    }

    // The final state equals the exact counts of all the input, for updateStateByKey and mapWithState.
    const expected = sorted(countWords(allLines));
    const last = Math.max(...completed);
    expect(sorted(parseTuples(path.join(dirs.output, `totals-${last}`)))).toEqual(expected);
    expect(sorted(parseTuples(path.join(dirs.output, `sessions-${last}`)))).toEqual(expected);

    // A batch that ran before and after a kill wrote the same outputs both times.
    const attempts = new Map<string, Set<string>>();
    for (const line of readFileSync(path.join(dirs.output, "attempts.log"), "utf8")
      .split("\n")
      .filter(Boolean)) {
      const [name, time, hash] = line.split(" ");
      const key = `${name} ${time}`;
      if (!attempts.has(key)) attempts.set(key, new Set());
      attempts.get(key)!.add(hash!);
    }
    const differing = [...attempts].filter(([, hashes]) => hashes.size > 1).map(([k]) => k);
    expect(differing).toEqual([]);
    expect([...attempts.values()].length).toBeGreaterThan(3 * 20);

    // The CLI reads the crash test's checkpoint: operators and state sizes; verify passes, then fails once corrupted.
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, ["--import", "tsx", path.join(root, "src/cli/main.ts"), ...args], {
        cwd: root,
        encoding: "utf8",
      });
    const inspected = cli("checkpoint", "inspect", "--json", dirs.checkpoint);
    expect(inspected.status, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout) as {
      newest: {
        restores: boolean;
        operators: Array<{ id: string; kind: string; keys?: number; bytes?: number }>;
      };
    };
    expect(report.newest.restores).toBe(true);
    const byId = new Map(report.newest.operators.map((o) => [o.id, o]));
    expect(byId.get("totals")).toMatchObject({ kind: "updateStateByKey", keys: expected.length });
    expect(byId.get("sessions")?.kind).toBe("mapWithState");
    expect(byId.get("sessions")?.keys).toBe(expected.length);
    expect(byId.get("window")?.bytes).toBeGreaterThan(0);
    const human = cli("checkpoint", "inspect", dirs.checkpoint);
    expect(human.stdout).toMatch(/totals\s+updateStateByKey\s+state at \d+: \d+ keys/);
    expect(cli("checkpoint", "verify", dirs.checkpoint).status).toBe(0);
    const newestMetadata = readdirSync(dirs.checkpoint)
      .filter((n) => n.startsWith("metadata-"))
      .sort()
      .at(-1)!;
    writeFileSync(path.join(dirs.checkpoint, newestMetadata), "torn");
    const verified = cli("checkpoint", "verify", dirs.checkpoint);
    expect(verified.status).toBe(1);
    expect(verified.stdout).toContain("FAILED");

    // Every window equals a recount of the inputs of its batches.
    for (const t of times) {
      const dir = path.join(dirs.output, `window-${t}`);
      if (!existsSync(dir)) continue;
      const windowLines = [t - 2 * BATCH, t - BATCH, t].flatMap((u) => inputOf.get(u) ?? []);
      expect(sorted(parseTuples(dir)), `window-${t}`).toEqual(sorted(countWords(windowLines)));
    }

    // Every bad record is in the dead-letter folder exactly once, in the file of the batch that read it, however
    // often that batch ran.
    if (badRecords) {
      const poison = allLines.filter(isPoison);
      expect(poison.length).toBeGreaterThan(0);
      const letters = path.join(dirs.output, "dead-letters");
      const written = readdirSync(letters)
        .filter((n) => n.endsWith(".jsonl"))
        .flatMap((f) =>
          readFileSync(path.join(letters, f), "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => {
              const letter = JSON.parse(l) as {
                batchTime: number;
                record: string;
                error: { message: string };
              };
              expect(f).toBe(`batch-${String(letter.batchTime).padStart(16, "0")}.jsonl`);
              expect(inputOf.get(letter.batchTime)).toContain(letter.record);
              expect(letter.error.message).toContain("poison");
              return letter.record;
            }),
        );
      expect(written.sort()).toEqual(poison.sort());
    } else {
      expect(existsSync(path.join(dirs.output, "dead-letters"))).toBe(false);
    }
  }
}
