// Helpers of the web UI tests: a free port, a listener that counts what the job itself saw, and a reader of the
// Prometheus text format.
import { createServer } from "node:net";
import type { BatchInfo, CheckpointInfo, StreamingListener } from "spate";

/** A port nothing listens on now (the kernel's choice of an ephemeral port, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The job's own view of its batches and checkpoints, to compare with what the UI reports. */
export class CountingListener implements StreamingListener {
  readonly completed: BatchInfo[] = [];
  readonly checkpoints: CheckpointInfo[] = [];
  receivedRecords = 0;

  onBatchStarted({ batchInfo }: { batchInfo: BatchInfo }): void {
    this.receivedRecords += batchInfo.numRecords;
  }

  onBatchCompleted({ batchInfo }: { batchInfo: BatchInfo }): void {
    this.completed.push({ ...batchInfo });
  }

  onCheckpointWritten({ checkpointInfo }: { checkpointInfo: CheckpointInfo }): void {
    this.checkpoints.push(checkpointInfo);
  }

  get failed(): number {
    return this.completed.filter((b) => b.failureReason !== undefined).length;
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k!] = v!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function metricValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const matching = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (matching.length === 0) throw new Error(`no sample ${name} ${JSON.stringify(labels)}`);
  return matching.reduce((sum, s) => sum + s.value, 0);
}

export async function getJson<T = any>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}
