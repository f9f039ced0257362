#!/usr/bin/env node
// The `spate` command: run a job module, inspect or verify a checkpoint folder.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Command, InvalidArgumentError as CommanderArgumentError } from "commander";
import { FileCheckpointStore } from "../checkpoint/FileCheckpointStore.js";
import { type CheckpointReport, inspectCheckpoint } from "../checkpoint/inspect.js";
import { type SkipBatchPlan, skipBatch } from "../checkpoint/skipBatch.js";
import { InvalidArgumentError, SpateError } from "../errors.js";
import type { CreateJob, JobModule } from "../job.js";
import { createLogger } from "../log.js";
import { requireCreatedContext, StreamingContext } from "../StreamingContext.js";

type Create = CreateJob;

/**
 * The command's own lines (started, resumed, stopping, failed), in the format of spate's logs: JSON lines on stderr,
 * readable lines on a terminal, so that stderr holds one format. At info level whatever SPATE_LOG_LEVEL says, since
 * they are what the command reports.
 */
const log = createLogger("spate", "info");

function confPair(value: string, previous: Record<string, string>): Record<string, string> {
  const i = value.indexOf("=");
  if (i <= 0) throw new CommanderArgumentError(`--conf takes key=value (got ${JSON.stringify(value)})`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

/** The package's version, from its package.json (beside `src/` in the repository, beside `dist/` when installed). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/**
 * Lets `import()` load TypeScript job modules: tsx (a dependency of the package) registered as Node's ESM loader,
 * once, and only for a TypeScript job. Run from the sources (`node --import tsx src/cli/main.ts`), TypeScript
 * already loads.
 */
let typeScriptEnabled = import.meta.url.endsWith(".ts");
async function enableTypeScript(): Promise<void> {
  if (typeScriptEnabled) return;
  const { register } = await import("tsx/esm/api");
  register();
  typeScriptEnabled = true;
}

/** The package.json that decides whether `file` is an ES module (its nearest one), and its "type". */
function packageScope(file: string): { packageJson?: string; type?: string } {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const packageJson = path.join(dir, "package.json");
    if (existsSync(packageJson)) {
      try {
        return {
          packageJson,
          type: (JSON.parse(readFileSync(packageJson, "utf8")) as { type?: string }).type,
        };
      } catch {
        return { packageJson };
      }
    }
    if (path.dirname(dir) === dir) return {};
  }
}

/**
 * A TypeScript job that would be compiled to CommonJS fails at once, with what to do: its `import` of spate would
 * load a second, CommonJS-compiled copy of the package, whose StreamingContext the command cannot run.
 */
function requireEsmTypeScript(modulePath: string, file: string): void {
  const ext = path.extname(file);
  if (ext === ".mts") return;
  const scope = packageScope(file);
  if (ext !== ".cts" && scope.type === "module") return;
  const esmName = `${path.basename(file, ext)}.mts`;
  throw new SpateError(
    "SPATE_INVALID_ARGUMENT",
    `${modulePath} would run as CommonJS (${
      ext === ".cts"
        ? "a .cts file"
        : scope.packageJson
          ? `${scope.packageJson} does not say "type": "module"`
          : 'no package.json says "type": "module"'
    }), and a CommonJS job loads a copy of spate of its own that the spate command cannot run. ` +
      `Add "type": "module" to ${scope.packageJson ?? "the project's package.json"}, or name the job ${esmName}.`,
  );
}

/**
 * Loads a job module: it exports (as default, or as `createContext`) the function that builds the context. The
 * contexts it builds get the module as their `jobModule` (unless they name one), so worker threads can rebuild them.
 */
async function loadJob(modulePath: string): Promise<Create> {
  const file = path.resolve(modulePath);
  if (!existsSync(file)) throw new SpateError("SPATE_INVALID_ARGUMENT", `No job module at ${file}.`);
  if (/\.[cm]?tsx?$/.test(file)) {
    requireEsmTypeScript(modulePath, file);
    await enableTypeScript();
  }
  type Exports = { default?: unknown; createContext?: unknown };
  const mod = (await import(pathToFileURL(file).href)) as Exports;
  // A CommonJS module arrives as `default` (its module.exports), with `default.default` when compiled from ESM.
  const cjs = (typeof mod.default === "object" && mod.default !== null ? mod.default : {}) as Exports;
  const exports: Array<[unknown, string]> = [
    [mod.default, "default"],
    [mod.createContext, "createContext"],
    [cjs.default, "default"],
    [cjs.createContext, "createContext"],
  ];
  const [create, exportName] = exports.find(([f]) => typeof f === "function") ?? [undefined, ""];
  if (create === undefined) {
    throw new SpateError(
      "SPATE_INVALID_ARGUMENT",
      `${modulePath} must export the function that builds the StreamingContext, as its default export or as ` +
        "createContext: export default function createContext() { const ssc = new StreamingContext(...); ...; return ssc; }",
    );
  }
  const url = pathToFileURL(file).href;
  return checked(modulePath, create as Create, (args) => ({ url, export: exportName, args }));
}

/**
 * The job's create function, failing with a coded error when what it returns is not a StreamingContext; the
 * context gets the job module as its `jobModule` when it names none.
 */
function checked(modulePath: string, create: Create, jobModule: (args: string[]) => JobModule): Create {
  return async (job) => {
    const ssc = requireCreatedContext(await create(job), `The create function of ${modulePath}`);
    ssc.jobModule ??= jobModule(job.args);
    return ssc;
  };
}

/** A checkpoint folder to read: one that exists and is a folder, else a coded error saying what is wrong. */
function existingCheckpointFolder(dir: string): FileCheckpointStore {
  const store = new FileCheckpointStore(dir);
  let isFolder: boolean;
  try {
    isFolder = statSync(store.location).isDirectory();
  } catch {
    throw new SpateError(
      "SPATE_INVALID_ARGUMENT",
      `No checkpoint folder at ${store.location}. Give the folder a job checkpoints into (spate run --checkpoint).`,
    );
  }
  if (!isFolder) {
    throw new SpateError(
      "SPATE_INVALID_ARGUMENT",
      `${store.location} is a file, not a checkpoint folder. Give the folder a job checkpoints into (spate run --checkpoint).`,
    );
  }
  return store;
}

type OperatorReport = NonNullable<CheckpointReport["newest"]>["operators"][number];

/** "2 partitions of 128 key groups (0-63, 64-127)"; ranges only for a few partitions. */
function partitioningText(p: OperatorReport["partitioning"]): string {
  if (!p) return "";
  const n = `${p.numPartitions} partition${p.numPartitions === 1 ? "" : "s"}`;
  if (p.maxParallelism === undefined) return `${n} (hash modulo partitions, before key groups)`;
  const ranges =
    p.keyGroups && p.keyGroups.length <= 16
      ? ` (${p.keyGroups.map(([a, b]) => `${a}-${b}`).join(", ")})`
      : "";
  return `${n} of ${p.maxParallelism} key groups${ranges}`;
}

function printReport(report: CheckpointReport): void {
  const out: string[] = [`checkpoint folder ${report.location}`];
  const h = report.owner.holder;
  out.push(
    h
      ? `owner: ${h.appName}, pid ${h.pid} on ${h.host}${h.running === false ? " (not running: a restart takes over at once)" : ""}, since ${new Date(h.since).toISOString()}, lease renewed ` +
          `${new Date(h.renewedAt).toISOString()} (lock timeout ${h.lockTimeout} ms)`
      : report.owner.supported
        ? `owner: none${report.owner.epoch === undefined ? "" : ` (last owner's epoch ${report.owner.epoch})`}`
        : "owner: not recorded (this store has no records)",
  );
  const n = report.newest;
  if (n) {
    out.push(
      `newest valid checkpoint: ${n.name} (${n.restores ? "restores" : "does NOT restore: a state file is missing or corrupt"})`,
      `  app ${n.appName}, batch ${n.batchDuration} ms, zero time ${n.zeroTime}` +
        (n.maxParallelism === undefined
          ? ""
          : `, ${n.maxParallelism} key groups (spate.state.maxParallelism)`),
      `  last completed batch ${n.completedBatch ?? "none"}, pending ${n.pendingBatches === 0 ? "none" : `${n.pendingBatches} (${n.pendingRanges.map(([a, b, step]) => (a === b ? `${a}` : `${a} to ${b} every ${step} ms`)).join(", ")})`}`,
      "  operators:",
    );
    for (const op of n.operators) {
      const state = op.stateful
        ? op.keys === undefined
          ? "  state: none checkpointed yet"
          : `  state at ${op.stateVersion}: ${op.keys} keys, ${op.bytes} bytes in ${op.files?.length} file(s), ` +
            partitioningText(op.partitioning)
        : "";
      out.push(`    ${op.id.padEnd(32)} ${op.kind.padEnd(22)}${state}`);
      for (const p of op.partitions ?? []) {
        out.push(
          `      partition ${p.partition}: ${p.keys} keys, ${p.bytes} bytes in ${p.files.length} file(s)` +
            (p.files.length > 0 ? `: ${p.files.join(", ")}` : ""),
        );
      }
    }
  } else {
    out.push("no valid metadata checkpoint");
  }
  out.push("files:");
  for (const f of report.files) {
    out.push(
      `  ${f.verifies ? "ok     " : "CORRUPT"} ${f.name.padEnd(56)} ${String(f.bytes).padStart(10)} bytes${f.problem ? `  ${f.problem}` : ""}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);
}

export function program(): Command {
  const cli = new Command("spate")
    .description("Fault-tolerant stream processing on Spark Streaming's model")
    .version(version(), "-V, --version", "print the version of spate");

  cli
    .command("run")
    .description("run a job module (it exports the function that builds the StreamingContext)")
    .argument("<module>", "the job module (.ts or .js)")
    .argument("[args...]", "arguments for the job, given to its create function as `args`")
    .option(
      "--checkpoint <dir>",
      "checkpoint folder: recover from it, or create the job and checkpoint into it",
    )
    .option("--ui-port <port>", "port of the streaming UI (0: off)")
    .option(
      "--conf <key=value>",
      "a spate.* setting (repeatable); settings in the job's code take precedence",
      confPair,
      {},
    )
    .action(
      async (
        modulePath: string,
        args: string[],
        opts: { checkpoint?: string; uiPort?: string; conf: Record<string, string> },
      ) => {
        const conf = { ...opts.conf, ...(opts.uiPort !== undefined ? { "spate.ui.port": opts.uiPort } : {}) };
        process.env.SPATE_CONF = JSON.stringify(conf);
        const create = await loadJob(modulePath);
        const build = () => create({ checkpoint: opts.checkpoint, args, role: "driver" });
        const ssc = opts.checkpoint
          ? await StreamingContext.getOrCreate(opts.checkpoint, build)
          : await build();
        // With spate.stopGracefullyOnShutdown the context handles SIGINT and SIGTERM itself (a graceful stop);
        // otherwise the command stops it at once, keeping the last checkpoint.
        if (!ssc.conf.getBoolean("spate.stopGracefullyOnShutdown")) {
          let stopping = false;
          const shutdown = (signal: string) => {
            if (stopping) process.exit(130);
            stopping = true;
            log.info({ signal }, `${signal}: stopping (send it again to force)`);
            void ssc.stop();
          };
          process.on("SIGINT", () => shutdown("SIGINT"));
          process.on("SIGTERM", () => shutdown("SIGTERM"));
        }
        await ssc.start();
        // Said once the job runs: its inputs have started (a file stream has listed the files it skips), so what
        // arrives from now on is read.
        const restored = ssc.restoredFrom;
        if (restored)
          log.info(
            { checkpoint: restored.checkpoint, lastCompletedBatch: restored.batchTime ?? null },
            `job resumed from checkpoint ${restored.checkpoint} (last completed batch ${restored.batchTime ?? "none"})`,
          );
        else if (opts.checkpoint)
          log.info(
            { checkpointDirectory: path.resolve(opts.checkpoint) },
            `job started fresh, checkpointing into ${path.resolve(opts.checkpoint)}`,
          );
        else log.info({}, "job started without checkpoints");
        await ssc.awaitTermination();
      },
    );

  const checkpoint = cli.command("checkpoint").description("look into a checkpoint folder");
  checkpoint
    .command("inspect")
    .description(
      "batches, operators with their ids, state keys, bytes and partitioning, files and whether each verifies",
    )
    .argument("<dir>")
    .option("--json", "print JSON")
    .action(async (dir: string, opts: { json?: boolean }) => {
      const report = await inspectCheckpoint(existingCheckpointFolder(dir));
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
    });
  checkpoint
    .command("verify")
    .description("exit 0 when the newest checkpoint restores, 1 otherwise")
    .argument("<dir>")
    .action(async (dir: string) => {
      const report = await inspectCheckpoint(existingCheckpointFolder(dir));
      const bad = report.files.filter((f) => !f.verifies);
      if (report.newestRestores) {
        process.stdout.write(`ok: ${report.newest!.name} restores (${report.files.length} files)\n`);
      } else {
        process.stdout.write(
          `FAILED: the newest checkpoint in ${report.location} does not restore` +
            (bad.length ? `; corrupt: ${bad.map((f) => f.name).join(", ")}` : "") +
            (report.newest ? `; the newest valid one is ${report.newest.name}` : "; no valid checkpoint") +
            "\n",
        );
        process.exitCode = 1;
      }
    });
  checkpoint
    .command("skip-batch")
    .description(
      "record a batch that fails for good (a poison record) as completed with its input DROPPED, so that a restart " +
        "goes on with the next batch; refuses while a job runs on the folder",
    )
    .argument("<dir>")
    .argument("<batchTime>", "the time of the failing batch, as its error says (Batch <time> failed)")
    .option("--yes", "do not ask for confirmation")
    .action(async (dir: string, time: string, opts: { yes?: boolean }) => {
      const batchTime = Number(time);
      if (!Number.isSafeInteger(batchTime) || batchTime <= 0) {
        throw new InvalidArgumentError(
          `The batch time must be a whole number of ms > 0 (got ${JSON.stringify(time)}).`,
        );
      }
      const { written } = await skipBatch(existingCheckpointFolder(dir), batchTime, {
        log: createLogger("spate"),
        confirm: async (plan) => {
          process.stdout.write(describeSkip(plan));
          if (opts.yes) return true;
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          try {
            return (
              (
                await rl.question(`Skip batch ${batchTime} and drop its input? Type "yes" to go on: `)
              ).trim() === "yes"
            );
          } finally {
            rl.close();
          }
        },
      });
      if (written) {
        process.stdout.write(`batch ${batchTime} skipped: ${written} written; restart the job to go on.\n`);
      } else {
        process.stdout.write("nothing written.\n");
        process.exitCode = 1;
      }
    });
  return cli;
}

function describeSkip(plan: SkipBatchPlan): string {
  const out = [
    `Batch ${plan.batchTime} of ${plan.location} (checkpoint ${plan.checkpoint}) will be recorded as completed ` +
      "without running its outputs. Its input is DROPPED and will never be processed:",
  ];
  if (plan.inputs.length === 0) out.push("  (no input was recorded for it)");
  for (const i of plan.inputs) {
    const shown =
      i.items.slice(0, 20).join(", ") + (i.items.length > 20 ? `, … (${i.items.length - 20} more)` : "");
    out.push(`  ${i.streamId} (${i.kind}): ${i.dropped} ${i.unit}${shown ? `: ${shown}` : ""}`);
  }
  out.push(
    "State stays as after the batch before; the batches after it run as usual" +
      (plan.pendingAfter > 0 ? ` (${plan.pendingAfter} pending).` : "."),
  );
  return `${out.join("\n")}\n`;
}

/** Runs the command line; any failure prints one line (with its code) and exits 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    const code = e instanceof SpateError ? e.code : undefined;
    log.error(
      code ? { code } : {},
      `${e instanceof Error ? e.message : String(e)}${code ? ` [${code}]` : ""}`,
    );
    process.exit(1);
  }
}

/**
 * Whether this module is the program Node was asked to run. Installed, `process.argv[1]` is the `.bin/spate` symlink
 * (or a path without the extension), so both sides are compared as real paths.
 */
function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  const self = realpathSync(fileURLToPath(import.meta.url));
  for (const candidate of [arg, `${arg}.js`, `${arg}.ts`]) {
    try {
      if (realpathSync(candidate) === self) return true;
    } catch {
      // not this one
    }
  }
  return false;
}

if (isEntryPoint()) void main();
