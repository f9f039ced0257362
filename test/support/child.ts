// Child processes for integration tests: run a TypeScript entry point with tsx from the repository root, collect
// its output, wait for text to appear in it, and stop it.
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export interface Child {
  process: ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /** stdout and stderr so far, interleaved. */
  output(): string;
  /** Resolves when `check` holds on the output; rejects after `ms` or when the process exits first. */
  until(check: (output: string) => boolean, ms?: number): Promise<void>;
  /** Sends `signal` and resolves with the exit code (or the signal's name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  exited: Promise<number | string>;
}

/** Runs `node --import tsx <args>` in the repository root. */
export function runTs(args: string[], env: Record<string, string> = {}): Child {
  let out = "";
  let all = "";
  const child = spawn(process.execPath, ["--import", "tsx", ...args], {
    cwd: root,
    env: { ...process.env, SPATE_LOG_LEVEL: "warn", ...env },
  });
  child.stdout!.on("data", (d) => {
    out += String(d);
    all += String(d);
  });
  child.stderr!.on("data", (d) => {
    all += String(d);
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    process: child,
    stdout: () => out,
    output: () => all,
    exited,
    async until(check, ms = 30_000) {
      const end = Date.now() + ms;
      while (!check(all)) {
        if (done) throw new Error(`the process exited before the expected output appeared:\n${all}`);
        if (Date.now() > end) throw new Error(`timed out waiting for output; got:\n${all}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(signal = "SIGTERM") {
      if (!done) child.kill(signal);
      return exited;
    },
  };
}

/** Runs `spate run <module> ...args` through the CLI's sources. */
export function spateRun(args: string[], env: Record<string, string> = {}): Child {
  return runTs(["src/cli/main.ts", "run", ...args], env);
}
