// SIGKILL at the two instants the LMDB backend adds risk to: in the middle of an LMDB write transaction (a batch's
// commit, some keys written, the transaction not committed), and in the middle of a data checkpoint (a state file
// being written, or written with no metadata pointing at it yet). Each run of the job kills itself at one of them
// (and says so in a marker file); after the last run, its state equals the counts of all the input, as a run that
// never failed.
import { spawn } from "node:child_process";
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
const JOB = path.join(here, "lmdb-kill-job.ts");
const BATCH = 200;
const VOCABULARY = Array.from({ length: 40 }, (_, i) => `w${i}`);
const RUNS: Array<["commit" | "checkpoint", number]> = [
  ["commit", 2],
  ["checkpoint", 2],
  ["commit", 4],
  ["checkpoint", 3],
  ["commit", 3],
  ["checkpoint", 4],
  ["checkpoint", 1],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnJob(dirs: { checkpoint: string; input: string; output: string }, mode: string, nth: number) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", JOB, dirs.checkpoint, dirs.input, dirs.output, mode, String(nth)],
    { cwd: root, env: { ...process.env, SPATE_LOG_LEVEL: "warn" }, stdio: ["pipe", "pipe", "pipe"] },
  );
  const log: string[] = [];
  child.stderr!.on("data", (d) => log.push(String(d)));
  child.stdout!.on("data", (d) => log.push(String(d)));
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(String(signal ?? code))),
  );
  return { child, log, exited };
}

function counts(lines: string[]): Array<[string, number]> {
  const out = new Map<string, number>();
  for (const l of lines) for (const w of l.split(" ").slice(1)) out.set(w, (out.get(w) ?? 0) + 1);
  return [...out].sort(([a], [b]) => (a < b ? -1 : 1));
}

describe("the lmdb state backend across SIGKILLs", () => {
  it("recovers exactly after kills in the middle of an LMDB commit and of a data checkpoint", {
    timeout: 180_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-crash-lmdb-"));
    const dirs = {
      checkpoint: path.join(base, "checkpoint"),
      input: path.join(base, "input"),
      output: path.join(base, "output"),
    };
    for (const d of [dirs.input, dirs.output]) mkdirSync(d, { recursive: true });
    let seed = Number(process.env.SPATE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`lmdb kill-point crash test seed: ${seed}`);
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const allLines: string[] = [];
    let files = 0;
    const writeFile = () => {
      const name = `part-${String(files++).padStart(5, "0")}.txt`;
      const lines = Array.from({ length: 2 + Math.floor(random() * 3) }, (_, i) => {
        const words = Array.from(
          { length: 2 + Math.floor(random() * 6) },
          () => VOCABULARY[Math.floor(random() * VOCABULARY.length)],
        );
        return `${name}:${i} ${words.join(" ")}`;
      });
      allLines.push(...lines);
      writeFileSync(path.join(dirs.input, `.${name}.tmp`), `${lines.join("\n")}\n`);
      renameSync(path.join(dirs.input, `.${name}.tmp`), path.join(dirs.input, name));
    };
    let writer: NodeJS.Timeout | undefined;
    const markers = () => readdirSync(dirs.output).filter((n) => n.startsWith("killed-"));
    try {
      for (const [k, [mode, nth]] of RUNS.entries()) {
        const job = spawnJob(dirs, mode, nth);
        if (!writer) {
          // textFileStream skips the files there at the first start: input begins once it checkpointed.
          const checkpointed = () =>
            existsSync(dirs.checkpoint) &&
            readdirSync(dirs.checkpoint).some((n) => n.startsWith("metadata-"));
          for (let waited = 0; waited < 30_000 && !checkpointed(); waited += 10) await sleep(10);
          writer = setInterval(writeFile, 50);
        }
        const how = await Promise.race([job.exited, sleep(40_000).then(() => "timeout")]);
        if (how === "timeout") job.child.kill("SIGKILL");
        expect(how, `run ${k} (${mode} ${nth}):\n${job.log.join("")}`).toBe("SIGKILL");
        expect(markers(), job.log.join("")).toHaveLength(k + 1);
      }
    } finally {
      clearInterval(writer);
    }
    const kinds = new Set(markers().map((n) => n.replace(/^killed-\d+-/, "")));
    expect(kinds).toEqual(new Set(["commit", "checkpoint-writing", "checkpoint-written"]));

    const final = spawnJob(dirs, "final", 0);
    for (let waited = 0; waited < 30_000 && !final.log.join("").includes("started"); waited += 20)
      await sleep(20);
    await sleep(8 * BATCH);
    final.child.stdin!.write("stop\n");
    expect(await final.exited, final.log.join("")).toBe("0");

    const times = readdirSync(dirs.output)
      .filter((n) => /^totals-\d+\.json$/.test(n))
      .map((n) => Number(n.slice("totals-".length, -".json".length)))
      .sort((a, b) => a - b);
    const last = times.at(-1)!;
    const read = (name: string) =>
      JSON.parse(readFileSync(path.join(dirs.output, `${name}-${last}.json`), "utf8")) as Array<
        [string, number]
      >;
    const expected = counts(allLines);
    expect(allLines.length).toBeGreaterThan(50);
    expect(read("totals")).toEqual(expected);
    expect(read("counts")).toEqual(expected);
  });
});
