#!/usr/bin/env node
// The `spate` command: run a job module, inspect or verify a checkpoint folder.
import { existsSync } from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError as CommanderArgumentError } from "commander";
import { FileCheckpointStore } from "../checkpoint/FileCheckpointStore.js";
import { type CheckpointReport, inspectCheckpoint } from "../checkpoint/inspect.js";
import { SpateError } from "../errors.js";
import type { CreateJob } from "../job.js";
import { StreamingContext } from "../StreamingContext.js";

type Create = CreateJob;

function confPair(value: string, previous: Record<string, string>): Record<string, string> {
  const i = value.indexOf("=");
  if (i <= 0) throw new CommanderArgumentError(`--conf takes key=value (got ${JSON.stringify(value)})`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

/** Loads a job module: it exports (as default, or as `createContext`) the function that builds the context. */
async function loadJob(modulePath: string): Promise<Create> {
  const file = path.resolve(modulePath);
  if (!existsSync(file)) throw new SpateError("SPATE_INVALID_ARGUMENT", `No job module at ${file}.`);
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown; createContext?: unknown };
  const create = mod.default ?? mod.createContext;
  if (typeof create !== "function") {
    throw new SpateError(
      "SPATE_INVALID_ARGUMENT",
      `${modulePath} must export the function that builds the StreamingContext, as its default export or as ` +
        "createContext: export default function createContext() { const ssc = new StreamingContext(...); ...; return ssc; }",
    );
  }
  return create as Create;
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
      `  app ${n.appName}, batch ${n.batchDuration} ms, zero time ${n.zeroTime}`,
      `  last completed batch ${n.completedBatch ?? "none"}, pending ${n.pendingBatches.length ? n.pendingBatches.join(", ") : "none"}`,
      "  operators:",
    );
    for (const op of n.operators) {
      const state = op.stateful
        ? op.keys === undefined
          ? "  state: none checkpointed yet"
          : `  state at ${op.stateVersion}: ${op.keys} keys, ${op.bytes} bytes in ${op.files?.length} file(s)`
        : "";
      out.push(`    ${op.id.padEnd(32)} ${op.kind.padEnd(22)}${state}`);
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
  const cli = new Command("spate").description("Fault-tolerant stream processing on Spark Streaming's model");

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
        const build = () => create({ checkpoint: opts.checkpoint, args });
        const ssc = opts.checkpoint
          ? await StreamingContext.getOrCreate(opts.checkpoint, build)
          : await build();
        const restored = ssc.restoredFrom;
        process.stderr.write(
          restored
            ? `spate: resumed from checkpoint ${restored.checkpoint} (last completed batch ${restored.batchTime ?? "none"})\n`
            : `spate: started ${opts.checkpoint ? `fresh, checkpointing into ${path.resolve(opts.checkpoint)}` : "without checkpoints"}\n`,
        );
        // With spate.stopGracefullyOnShutdown the context handles SIGINT and SIGTERM itself (a graceful stop);
        // otherwise the command stops it at once, keeping the last checkpoint.
        if (!ssc.conf.getBoolean("spate.stopGracefullyOnShutdown")) {
          let stopping = false;
          const shutdown = (signal: string) => {
            if (stopping) process.exit(130);
            stopping = true;
            process.stderr.write(`spate: ${signal}, stopping (again to force)\n`);
            void ssc.stop();
          };
          process.on("SIGINT", () => shutdown("SIGINT"));
          process.on("SIGTERM", () => shutdown("SIGTERM"));
        }
        await ssc.start();
        await ssc.awaitTermination();
      },
    );

  const checkpoint = cli.command("checkpoint").description("look into a checkpoint folder");
  checkpoint
    .command("inspect")
    .description("batches, operators with their ids, state keys and bytes, files and whether each verifies")
    .argument("<dir>")
    .option("--json", "print JSON")
    .action(async (dir: string, opts: { json?: boolean }) => {
      const report = await inspectCheckpoint(new FileCheckpointStore(dir));
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else printReport(report);
    });
  checkpoint
    .command("verify")
    .description("exit 0 when the newest checkpoint restores, 1 otherwise")
    .argument("<dir>")
    .action(async (dir: string) => {
      const report = await inspectCheckpoint(new FileCheckpointStore(dir));
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
  return cli;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  program()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      const code = e instanceof SpateError ? ` [${e.code}]` : "";
      process.stderr.write(`spate: ${e instanceof Error ? e.message : String(e)}${code}\n`);
      process.exit(1);
    });
}
