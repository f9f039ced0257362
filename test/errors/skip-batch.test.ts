// `spate checkpoint skip-batch`: the documented way past a batch that fails for good on a poison record. A job
// that fails on every restart goes on once the batch is skipped, with its input dropped and nothing else lost.
import { spawnSync } from "node:child_process";
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
import { describe, expect, it } from "vitest";
import { root, spateRun } from "../support/child.js";

const JOB = "test/errors/poison-job.ts";

function cli(args: string[], input?: string) {
  return spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "checkpoint", ...args], {
    cwd: root,
    encoding: "utf8",
    input,
    env: { ...process.env, SPATE_LOG_LEVEL: "warn" },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !check(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe("spate checkpoint skip-batch", () => {
  it("gets a job that fails on every restart (a poison record) past its batch, dropping only that input", {
    timeout: 180_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-skip-batch-"));
    const checkpoint = path.join(base, "checkpoint");
    const input = path.join(base, "input");
    const output = path.join(base, "output");
    for (const d of [input, output]) mkdirSync(d);
    const put = (name: string, text: string) => {
      writeFileSync(path.join(base, name), text);
      renameSync(path.join(base, name), path.join(input, name));
    };
    const sums = () =>
      existsSync(path.join(output, "sums.log"))
        ? readFileSync(path.join(output, "sums.log"), "utf8")
            .split("\n")
            .filter(Boolean)
            .map((l) => Number(l.split(" ")[1]))
        : [];
    const run = () => spateRun([JOB, "--checkpoint", checkpoint, input, output]);

    const first = run();
    await first.until((o) => o.includes("job started"));
    await waitFor(
      () => existsSync(checkpoint) && readdirSync(checkpoint).some((n) => n.startsWith("metadata-")),
      "a checkpoint",
    );
    put("a.txt", "1\n2\n");
    await waitFor(() => sums().includes(3), "the sum of a.txt");
    put("poison.txt", "4\npoison\n");
    expect(await first.exited).not.toBe(0);
    const failed =
      /Batch (\d+) failed: the function of operator map at test\/errors\/poison-job\.ts:\d+ \(/.exec(
        first.output(),
      );
    expect(failed, first.output()).not.toBeNull();
    const batch = failed![1]!;

    // Every restart runs the batch again, and fails again.
    const second = run();
    expect(await second.exited).not.toBe(0);
    expect(second.output()).toContain(`Batch ${batch} failed`);

    // Asked for confirmation, "no" writes nothing.
    const refused = cli(["skip-batch", checkpoint, batch], "no\n");
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain("poison.txt");
    expect(refused.stdout).toContain("nothing written");
    // A batch that is not the failing one is refused.
    const wrong = cli(["skip-batch", checkpoint, String(Number(batch) + 100000), "--yes"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("SPATE_INVALID_ARGUMENT");

    const skipped = cli(["skip-batch", checkpoint, batch, "--yes"]);
    expect(skipped.status, skipped.stderr).toBe(0);
    expect(skipped.stdout).toMatch(/Its input is DROPPED/);
    expect(skipped.stdout).toContain("1 files: poison.txt");
    expect(skipped.stdout).toContain(`batch ${batch} skipped`);

    // The restart goes on past it: poison.txt's 4 is dropped with it, later input is summed.
    const third = run();
    try {
      await third.until((o) => o.includes("job resumed"));
      put("c.txt", "10\n");
      await waitFor(() => sums().includes(13), "the sum with c.txt");
      expect(sums()).not.toContain(7);
      // While the job runs, skip-batch refuses: the job owns the folder.
      const locked = cli(["skip-batch", checkpoint, batch, "--yes"]);
      expect(locked.status).toBe(1);
      expect(locked.stderr).toContain("SPATE_CHECKPOINT_LOCKED");
    } finally {
      await third.stop();
    }
    expect(third.output()).not.toContain("failed");
  });
});
