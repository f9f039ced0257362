// The package as a user gets it: `npm pack` (which builds dist/), the tarball installed with `npm install` into a
// new project, and the `spate` command run there through `npx` and the .bin symlink npm made: help, version, a
// TypeScript job with a checkpoint that stops and resumes, its UI, `checkpoint inspect` and `verify`, and the exit
// codes and coded errors of failures.
import { type ChildProcess, spawn } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root } from "./support/child.js";

const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  name: string;
  version: string;
};

interface Result {
  code: number | string;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

interface Started {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Result>;
}

/** Starts a command in `cwd`. */
function start(command: string, args: string[], cwd: string): Started {
  const child = spawn(command, args, { cwd, env: { ...process.env, SPATE_LOG_LEVEL: "warn" } });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += String(d);
  });
  child.stderr!.on("data", (d) => {
    stderr += String(d);
  });
  const exited = new Promise<Result>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      children.delete(child);
      resolve({ code: code ?? signal ?? "unknown", stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs a command to its end, with its output; killed, and failing, after `ms`. */
async function run(command: string, args: string[], cwd: string, ms = 60_000): Promise<Result> {
  const started = start(command, args, cwd);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      started.child.kill("SIGKILL");
      reject(
        new Error(
          `${command} ${args.join(" ")} took over ${ms} ms:\n${started.stdout()}\n${started.stderr()}`,
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([started.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `check` holds on a started command's output; fails after `ms` or when it exits first. */
async function until(started: Started, check: (out: string) => boolean, ms = 90_000, step?: () => void) {
  const end = Date.now() + ms;
  while (!check(started.stdout() + started.stderr())) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) {
      throw new Error(`exited before the expected output:\n${started.stdout()}\n${started.stderr()}`);
    }
    if (Date.now() > end) throw new Error(`timed out; output:\n${started.stdout()}\n${started.stderr()}`);
    step?.();
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The `spate` command as npm installed it: a symlink in node_modules/.bin. */
const bin = () => path.join(app, "node_modules", ".bin", "spate");

/** `npx spate <args>` in the user's project, to its end. */
const npxSpate = (args: string[], ms?: number) => run("npx", ["spate", ...args], app, ms);

/** `spate <args>` through the .bin symlink (as package.json scripts run it, and without npx's start-up), to its end. */
const spate = (args: string[], ms?: number) => run(bin(), args, app, ms);

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// The user's job, in TypeScript: running totals of the lines of the files that appear in a folder, checkpointed.
const JOB = `import { type JobArgs, Milliseconds, StreamingContext } from "${pkg.name}";

export default function createContext({ args }: JobArgs): StreamingContext {
  const [input] = args as [string];
  const ssc = new StreamingContext({ batchDuration: Milliseconds(500), appName: "packaged" });
  ssc
    .textFileStream(input)
    .map((line: string): [string, number] => [line, 1])
    .updateStateByKey((ones: number[], total: number | undefined) => (total ?? 0) + ones.length)
    .uid("totals")
    .print();
  return ssc;
}
`;

let base: string;
/** The user's project. */
let app: string;
/** The folder the job reads files from. */
let input: string;

beforeAll(async () => {
  base = mkdtempSync(path.join(tmpdir(), "spate-package-"));
  const packed = await run("npm", ["pack", "--pack-destination", base], root, 240_000);
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = path.join(base, readdirSync(base).find((n) => n.endsWith(".tgz"))!);
  app = path.join(base, "app");
  mkdirSync(app);
  // A new ESM project, with the override and script choices the README gives users.
  writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({
      name: "spate-user",
      private: true,
      type: "module",
      overrides: { "@nats-io/nuid": "2.0.3" },
      allowScripts: { esbuild: false, "msgpackr-extract": false, lmdb: false },
    }),
  );
  input = path.join(app, "in");
  mkdirSync(input);
  writeFileSync(path.join(app, "job.ts"), JOB);
  const installed = await run(
    "npm",
    ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball],
    app,
    240_000,
  );
  expect(installed.code, installed.stderr).toBe(0);
  expect(installed.stderr).not.toMatch(/EBADENGINE|npm warn/);
}, 480_000);

afterAll(() => {
  for (const child of children) child.kill("SIGKILL");
  if (base) rmSync(base, { recursive: true, force: true });
});

describe(`the installed package (${pkg.name})`, () => {
  it("checks state backends with spate/testing, fast-check not installed", async () => {
    writeFileSync(
      path.join(app, "contract.mjs"),
      `import { lmdbStateBackend, memoryStateBackend } from "${pkg.name}";
import { checkStateBackend } from "${pkg.name}/testing";
await checkStateBackend(memoryStateBackend, { numRuns: 20 });
await checkStateBackend(lmdbStateBackend, { numRuns: 20 });
console.log("contract kept");
`,
    );
    const checked = await run(process.execPath, ["contract.mjs"], app);
    expect(checked.code, checked.stderr).toBe(0);
    expect(checked.stdout).toContain("contract kept");
    expect(readdirSync(path.join(app, "node_modules"))).not.toContain("fast-check");
  });

  it("npx spate --help and --version", async () => {
    const help = await npxSpate(["--help"]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: spate /);
    expect(help.stdout).toContain("checkpoint");
    const version = await npxSpate(["--version"]);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const unknown = await npxSpate(["frobnicate"]);
    expect(unknown.code).toBe(1);
  });

  it("runs a TypeScript job with a checkpoint, resumes it, and inspects and verifies the checkpoint", async () => {
    const staging = path.join(app, "staging");
    mkdirSync(staging);
    const checkpoint = path.join(app, "checkpoint");
    const port = await freePort();
    let files = 0;
    /** Runs the job until its output shows `expected`, adding a file of one line every 300 ms, then stops it. */
    const runJob = async (expected: RegExp): Promise<Result> => {
      // Through the .bin symlink (as package.json scripts run it), so that the signal reaches spate itself.
      const job = start(
        bin(),
        [
          "run",
          "job.ts",
          input,
          "--checkpoint",
          checkpoint,
          "--ui-port",
          String(port),
          "--conf",
          "spate.checkpoint.interval=500",
        ],
        app,
      );
      await until(job, (out) => /job (started|resumed)/.test(out));
      // Files appear atomically: written beside the folder, then renamed in.
      await until(
        job,
        (out) => expected.test(out),
        90_000,
        () => {
          const name = `part-${String(files++).padStart(4, "0")}.txt`;
          writeFileSync(path.join(staging, name), "hello\n");
          renameSync(path.join(staging, name), path.join(input, name));
        },
      );
      // The installed UI serves its page and the chart library it loads from the package's dependencies.
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      const asset = await fetch(`http://127.0.0.1:${port}/static/uPlot.iife.min.js`);
      expect(asset.status).toBe(200);
      expect((await asset.text()).length).toBeGreaterThan(1000);
      job.child.kill("SIGTERM");
      return job.exited;
    };

    const first = await runJob(/\(hello,([3-9]|\d{2,})\)/);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain("job started fresh");

    const second = await runJob(/\(hello,\d+\)/);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain("job resumed from checkpoint");

    const verified = await npxSpate(["checkpoint", "verify", checkpoint]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^ok: metadata-/);
    const inspected = await spate(["checkpoint", "inspect", "--json", checkpoint]);
    expect(inspected.code, inspected.stderr).toBe(0);
    const report = JSON.parse(inspected.stdout) as {
      newest: { restores: boolean; operators: Array<{ id: string; kind: string; keys?: number }> };
    };
    expect(report.newest.restores).toBe(true);
    expect(report.newest.operators.find((o) => o.id === "totals")).toMatchObject({
      kind: "updateStateByKey",
      keys: 1,
    });

    // A torn newest metadata checkpoint: verify fails.
    const newest = readdirSync(checkpoint)
      .filter((n) => n.startsWith("metadata-"))
      .sort()
      .at(-1)!;
    writeFileSync(path.join(checkpoint, newest), "torn");
    const torn = await npxSpate(["checkpoint", "verify", checkpoint]);
    expect(torn.code).toBe(1);
    expect(torn.stdout).toContain("FAILED");
  }, 300_000);

  it("fails with exit code 1 and a coded error on a missing folder, a file as folder, and a job that is not one", async () => {
    const coded = (r: Result, code: string, text: string | RegExp) => {
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toContain(`[${code}]`);
      expect(r.stderr).toMatch(text);
    };
    const missing = path.join(app, "no-such-checkpoint");
    coded(await spate(["checkpoint", "verify", missing]), "SPATE_INVALID_ARGUMENT", "No checkpoint folder");
    coded(await spate(["checkpoint", "inspect", missing]), "SPATE_INVALID_ARGUMENT", "No checkpoint folder");
    coded(
      await spate(["checkpoint", "verify", "package.json"]),
      "SPATE_INVALID_ARGUMENT",
      "is a file, not a checkpoint folder",
    );

    coded(
      await spate(["run", "job.ts", input, "--checkpoint", "package.json"]),
      "SPATE_INVALID_ARGUMENT",
      "is not a folder",
    );

    writeFileSync(
      path.join(app, "answer.ts"),
      "export default function createContext(): number {\n  return 42;\n}\n",
    );
    coded(await spate(["run", "answer.ts"]), "SPATE_INVALID_ARGUMENT", "returned 42, not a StreamingContext");
    coded(await spate(["run", "missing-job.ts"]), "SPATE_INVALID_ARGUMENT", "No job module");

    // A TypeScript job that would be compiled to CommonJS says what to change.
    mkdirSync(path.join(app, "cjs"));
    writeFileSync(path.join(app, "cjs", "package.json"), JSON.stringify({ type: "commonjs" }));
    writeFileSync(path.join(app, "cjs", "job.ts"), JOB);
    coded(await spate(["run", "cjs/job.ts", input]), "SPATE_INVALID_ARGUMENT", /name the job job\.mts/);
    // Named .mts, the same job runs.
    writeFileSync(path.join(app, "cjs", "job.mts"), JOB);
    const mts = start(bin(), ["run", "cjs/job.mts", input], app);
    await until(mts, (out) => out.includes("job started without checkpoints"));
    mts.child.kill("SIGTERM");
    expect((await mts.exited).code).toBe(0);

    // A job whose function throws fails its batch, and the command exits 1 with the error's code.
    writeFileSync(
      path.join(app, "throws.ts"),
      `import { Milliseconds, StreamingContext } from "${pkg.name}";
export default function createContext(): StreamingContext {
  const ssc = new StreamingContext({ batchDuration: Milliseconds(200) });
  ssc.queueStream([["boom"]]).map((word: string) => {
    throw new Error(\`cannot count \${word}\`);
  }).print();
  return ssc;
}
`,
    );
    coded(await spate(["run", "throws.ts"]), "SPATE_USER_FUNCTION_FAILED", "cannot count boom");
  }, 180_000);
});
