// The README's first command runs the clickstream demo through the spate command; interrupting it and running the
// same command again resumes from the checkpoint and says so.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function runDemo(base: string): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "run",
      "examples/clickstream-demo.ts",
      "--checkpoint",
      path.join(base, "checkpoint"),
    ],
    {
      cwd: root,
      env: { ...process.env, CLICKSTREAM_DIR: path.join(base, "clicks"), SPATE_LOG_LEVEL: "warn" },
    },
  );
  child.stdout!.on("data", (d) => (out += String(d)));
  child.stderr!.on("data", (d) => (out += String(d)));
  return { child, output: () => out };
}

async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", resolve),
  );

describe("the demo", () => {
  it("runs, stops on Ctrl-C, and resumes from its checkpoint when run again", {
    timeout: 60_000,
  }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), "spate-demo-"));
    const first = runDemo(base);
    await until(() => first.output().includes("top pages, last 30 s: /"), 20_000);
    await until(() => first.output().includes("sessions ended"), 20_000);
    expect(first.output()).toContain("started fresh");
    first.child.kill("SIGINT");
    expect(await exited(first.child)).toBe(0);
    const second = runDemo(base);
    await until(() => second.output().includes("top pages"), 20_000);
    expect(second.output()).toMatch(/resumed from checkpoint metadata-\d+-\d \(last completed batch \d+\)/);
    second.child.kill("SIGINT");
    expect(await exited(second.child)).toBe(0);
  });
});
