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

/** Starts `nats-server -js` (on a free port and a new store, unless given; without -js if `jetstream` is false) and resolves once it accepts connections; `args` are added to its command line. */
export async function startNatsServer(
  options: { port?: number; storeDir?: string; jetstream?: boolean; args?: string[] } = {},
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
        ...(options.args ?? []),
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
      // Another process may have taken a port between freePort() and the server's bind: try another.
      if (attempt < 3 && /address already in use/i.test(out)) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
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

/** A node of a cluster: the server now running it (replaced by `restart`), and what it keeps across restarts. */
export interface NatsClusterNode {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  /** Its HTTP monitoring port (`/jsz` says which node is the meta leader). */
  readonly monitorPort: number;
  readonly storeDir: string;
  server: NatsServer | undefined;
}

export interface NatsCluster {
  readonly nodes: NatsClusterNode[];
  /** Every node's client URL. */
  readonly urls: string[];
  /** The node of that server name (as stream info's `cluster.leader` gives it). */
  node(name: string): NatsClusterNode;
  /** The name of the node that is the JetStream meta leader now, as a running node's `/jsz` says (undefined: none). */
  metaLeader(): Promise<string | undefined>;
  /** SIGKILLs the node's server, keeping its store. */
  kill(node: NatsClusterNode): Promise<void>;
  /** Starts the node's server again on its ports and store. */
  restart(node: NatsClusterNode): Promise<void>;
  /** Stops every server and deletes the stores. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster of `size` JetStream servers on free ports of 127.0.0.1 (each with its own store, routes to all
 * the others), and resolves once JetStream answers through every node (its meta leader is elected).
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const ports = new Set<number>();
  while (ports.size < 3 * size) ports.add(await freePort());
  const [clientPorts, clusterPorts, monitorPorts] = [
    [...ports].slice(0, size),
    [...ports].slice(size, 2 * size),
    [...ports].slice(2 * size),
  ];
  const routes = clusterPorts.map((p) => `nats://127.0.0.1:${p}`).join(",");
  const nodes: NatsClusterNode[] = clientPorts.map((port, i) => ({
    name: `n${i + 1}`,
    url: `127.0.0.1:${port}`,
    port,
    clusterPort: clusterPorts[i]!,
    monitorPort: monitorPorts[i]!,
    storeDir: mkdtempSync(path.join(tmpdir(), `spate-nats-n${i + 1}-`)),
    server: undefined,
  }));
  const start = async (node: NatsClusterNode) => {
    node.server = await startNatsServer({
      port: node.port,
      storeDir: node.storeDir,
      args: [
        ...["--name", node.name, "--cluster_name", "spate"],
        ...["--cluster", `nats://127.0.0.1:${node.clusterPort}`, "--routes", routes],
        ...["-m", String(node.monitorPort)],
      ],
    });
  };
  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((n) => n.url),
    node(name) {
      const node = nodes.find((n) => n.name === name);
      if (!node) throw new Error(`no node named ${name} (nodes: ${nodes.map((n) => n.name).join(", ")})`);
      return node;
    },
    async metaLeader() {
      for (const node of nodes) {
        if (!node.server) continue;
        try {
          const res = await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`);
          const jsz = (await res.json()) as { meta_cluster?: { leader?: string } };
          return jsz.meta_cluster?.leader || undefined;
        } catch {
          // not answering: ask another
        }
      }
      return undefined;
    },
    async kill(node) {
      const child = node.server?.process;
      node.server = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
    async restart(node) {
      if (node.server) throw new Error(`node ${node.name} is running`);
      await start(node);
    },
    async stop() {
      for (const node of nodes) {
        await node.server?.stop({ keepStore: true });
        node.server = undefined;
        rmSync(node.storeDir, { recursive: true, force: true });
      }
    },
  };
  try {
    await Promise.all(nodes.map(start));
    for (const node of nodes) await untilJetStream(node.url);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}

/** Waits until JetStream answers through the server at `url` (in a cluster: once a meta leader is elected). */
export async function untilJetStream(url: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      await withNats(url, async (_nc, jsm) => {
        await jsm.getAccountInfo();
      });
      return;
    } catch (e) {
      if (Date.now() > end)
        throw new Error(`JetStream did not answer at ${url} within ${ms} ms: ${String(e)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Runs `fn` with a connection of its own to the server, closed afterwards. */
export async function withNats<R>(
  url: string | string[],
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
export function addStream(
  url: string | string[],
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  return withNats(url, async (_nc, jsm) => {
    await jsm.streams.add({ storage: "file", ...config } as StreamConfig);
  });
}

/** Publishes strings to subjects, awaiting each acknowledgement; returns the stream sequences. */
export function publishAll(
  url: string | string[],
  messages: Array<[subject: string, text: string]>,
): Promise<number[]> {
  return withNats(url, async (nc) => {
    const js = jetstream(nc);
    const seqs: number[] = [];
    for (const [subject, text] of messages) seqs.push((await js.publish(subject, text)).seq);
    return seqs;
  });
}

/** Every message a stream holds, in order: `[seq, subject, text]`. */
export function readStream(url: string | string[], stream: string): Promise<Array<[number, string, string]>> {
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
