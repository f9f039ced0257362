// End-to-end exactly-once through JetStream, tested for real: words are published to the stream IN while a job
// (counts-job.ts: natsJetStream → mapWithState running counts → publishToJetStream) runs as a child process,
// restarted with getOrCreate after each of many SIGKILLs: at random instants, right after a publish (before the job
// consumed it), right after a batch was processed (before or while its outputs are published), and right after its
// outputs were published (before the batch is checkpointed complete, so it runs again). At the end the output stream
// OUT must hold exactly what a run without failure publishes: for every word, "word 1" … "word n" once each, in order.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root } from "../support/child.js";
import { addStream, type NatsServer, publishAll, readStream, startNatsServer, withNats } from "./server.js";

const JOB = path.join(path.dirname(fileURLToPath(import.meta.url)), "counts-job.ts");
const KILLS = 12;
const WORDS = Array.from({ length: 12 }, (_, i) => `w${i}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let server: NatsServer;

beforeAll(async () => {
  server = await startNatsServer();
});

afterAll(async () => {
  await server?.stop();
});

interface Run {
  child: ChildProcess;
  started: Promise<void>;
  stdout: () => string;
  output: () => string;
}

function spawnJob(checkpoint: string): Run {
  const child = spawn(process.execPath, ["--import", "tsx", JOB, server.url, checkpoint], {
    cwd: root,
    env: { ...process.env, SPATE_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let all = "";
  child.stdout!.on("data", (d) => {
    out += String(d);
    all += String(d);
  });
  child.stderr!.on("data", (d) => (all += String(d)));
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => {
      if (out.includes("started")) resolve();
    });
    child.once("exit", (code, signal) => reject(new Error(`job exited (${code ?? signal}):\n${all}`)));
  });
  started.catch(() => {});
  return { child, started, stdout: () => out, output: () => all };
}

async function kill(run: Run): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) {
    const exited = new Promise((resolve) => run.child.once("exit", resolve));
    run.child.kill("SIGKILL");
    await exited;
  }
}

async function until(check: () => boolean, what: string, run: Run, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (run.child.exitCode !== null) throw new Error(`the job exited waiting for ${what}:\n${run.output()}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${run.output()}`);
    await sleep(5);
  }
}

/** Batch times the job printed `what` for, after `from` characters of its stdout. */
function batchesIn(stdout: string, what: "processed" | "published", from = 0): number[] {
  return [...stdout.slice(from).matchAll(new RegExp(`^${what} (\\d+)$`, "gm"))].map((m) => Number(m[1]));
}

describe("NATS JetStream in, JetStream out", () => {
  it(`publishes every count exactly once across ${KILLS} SIGKILLs`, { timeout: 90_000 }, async () => {
    await addStream(server.url, { name: "IN", subjects: ["in.>"] });
    // A duplicate window longer than the test: every re-published output is recognised.
    await addStream(server.url, { name: "OUT", subjects: ["out.>"], duplicate_window: 10 * 60 * 1e9 });
    const checkpoint = mkdtempSync(path.join(tmpdir(), "spate-nats-exactly-once-"));
    const published: string[] = [];
    const burst = async () => {
      const words = Array.from({ length: 10 + Math.floor(Math.random() * 30) }, () => {
        return WORDS[Math.floor(Math.random() * WORDS.length)]!;
      });
      await publishAll(
        server.url,
        words.map((w) => ["in.words", w]),
      );
      published.push(...words);
    };
    const runs: Run[] = [];
    const processedIn: Array<Set<number>> = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        const run = spawnJob(checkpoint);
        runs.push(run);
        await run.started;
        const mark = run.stdout().length;
        const mode = k % 4;
        if (mode === 0) {
          // A random instant.
          await burst();
          await sleep(50 + Math.random() * 400);
        } else if (mode === 1) {
          // Published, not yet consumed: killed as soon as JetStream acknowledged the burst.
          await burst();
        } else if (mode === 2) {
          // Between processing and output: the batch's counts are computed, the sink runs next.
          await burst();
          await until(() => batchesIn(run.stdout(), "processed", mark).length > 0, "a processed batch", run);
        } else {
          // After the output, before the batch is checkpointed complete: it runs again after the restart.
          await burst();
          await until(() => batchesIn(run.stdout(), "published", mark).length > 0, "a published batch", run);
        }
        await kill(run);
        processedIn.push(new Set(batchesIn(run.stdout(), "processed")));
      }
      // The last run is left alone until everything published has been counted and output.
      const final = spawnJob(checkpoint);
      runs.push(final);
      await final.started;
      await burst();
      const outCount = () =>
        withNats(server.url, async (_nc, jsm) => (await jsm.streams.info("OUT")).state.messages);
      const end = Date.now() + 30_000;
      while ((await outCount()) < published.length) {
        if (final.child.exitCode !== null || Date.now() > end) {
          throw new Error(
            `the outputs did not catch up (${await outCount()} of ${published.length}):\n${final.output()}`,
          );
        }
        await sleep(50);
      }
      await sleep(500); // a few more batches: nothing more may appear
      processedIn.push(new Set(batchesIn(final.stdout(), "processed")));
      await kill(final);

      // What a run without failure publishes: for each word, its running counts 1..n in order.
      const expected = new Map<string, string[]>();
      for (const w of published) {
        const list = expected.get(w) ?? [];
        list.push(`${w} ${list.length + 1}`);
        expected.set(w, list);
      }
      const out = await readStream(server.url, "OUT");
      expect(out.length).toBe(published.length);
      const got = new Map<string, string[]>();
      for (const [, subject, text] of out) {
        expect(subject).toBe("out.counts");
        const w = text.split(" ")[0]!;
        got.set(w, [...(got.get(w) ?? []), text]);
      }
      expect(got).toEqual(expected);

      // The kills did make batches run again (their outputs were then dropped as duplicates).
      const rerun = processedIn.flatMap((times, i) =>
        [...times].filter((t) => processedIn.slice(i + 1).some((later) => later.has(t))),
      );
      expect(rerun.length).toBeGreaterThan(0);
    } finally {
      for (const r of runs) await kill(r);
    }
  });
});
