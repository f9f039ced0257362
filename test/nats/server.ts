// A real nats-server with JetStream for the NATS tests: Debian's package (installed when missing), on a free port of
// 127.0.0.1, storing into a temporary folder; plus small helpers on the official client.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type JetStreamManager, jetstream, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ensureDebianPackage } from "../support/debian.js";

export interface NatsServer {
  url: string;
  port: number;
  /** Where JetStream stores its streams. */
  storeDir: string;
  process: ChildProcess;
  /** stdout and stderr of the server so far. */
  output(): string;
  /** Stops the server and deletes its store, unless `keepStore` (to start another on it). */
  stop(options?: { keepStore?: boolean }): Promise<void>;
}

/** A port of 127.0.0.1 nothing listens on (free when asked). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts `nats-server -js` (on a free port and a new store, unless given; without -js if `jetstream` is false) and resolves once it accepts connections. */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; jetstream?: boolean } = {},
): Promise<NatsServer> {
  const program = ensureDebianPackage("nats-server", "nats-server");
  const storeDir = options.storeDir ?? mkdtempSync(path.join(tmpdir(), "spate-nats-"));
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(
      program,
      [
        ...(options.jetstream === false ? [] : ["-js"]),
        ...["-a", "127.0.0.1", "-p", String(port), "-sd", storeDir],
      ],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout!.on("data", (d) => (out += String(d)));
    child.stderr!.on("data", (d) => (out += String(d)));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (out.includes("Server is ready")) {
          clearTimeout(timer);
          resolve(true);
        }
      };
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (!ready) {
      child.kill("SIGKILL");
      await exited;
      // Another process may have taken the port between freePort() and the server's bind: try another.
      if (attempt < 3 && options.port === undefined && /address already in use/i.test(out)) continue;
      throw new Error(`nats-server did not start:\n${out}`);
    }
    return {
      url: `127.0.0.1:${port}`,
      port,
      storeDir,
      process: child,
      output: () => out,
      async stop({ keepStore = false } = {}) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
        if (!keepStore) rmSync(storeDir, { recursive: true, force: true });
      },
    };
  }
}

/** Runs `fn` with a connection of its own to the server, closed afterwards. */
export async function withNats<R>(
  url: string,
  fn: (nc: NatsConnection, jsm: JetStreamManager) => Promise<R>,
): Promise<R> {
  const nc = await connect({ servers: url });
  try {
    return await fn(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Creates a stream (file storage) with the given config. */
export function addStream(url: string, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  return withNats(url, async (_nc, jsm) => {
    await jsm.streams.add({ storage: "file", ...config } as StreamConfig);
  });
}

/** Publishes strings to subjects, awaiting each acknowledgement; returns the stream sequences. */
export function publishAll(url: string, messages: Array<[subject: string, text: string]>): Promise<number[]> {
  return withNats(url, async (nc) => {
    const js = jetstream(nc);
    const seqs: number[] = [];
    for (const [subject, text] of messages) seqs.push((await js.publish(subject, text)).seq);
    return seqs;
  });
}

/** Every message a stream holds, in order: `[seq, subject, text]`. */
export function readStream(url: string, stream: string): Promise<Array<[number, string, string]>> {
  return withNats(url, async (nc, jsm) => {
    const info = await jsm.streams.info(stream);
    const out: Array<[number, string, string]> = [];
    if (info.state.messages === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      out.push([m.seq, m.subject, m.string()]);
      if (m.seq >= info.state.last_seq) break;
    }
    await messages.close();
    return out;
  });
}
