// What a checkpoint costs in NATS JetStream (jetStreamCheckpointStore) against the local folder (FileCheckpointStore,
// fsync included), in one run on this machine: the time to write, then to read back, one checkpoint file of N MiB,
// into an R1 bucket on one nats-server and an R3 bucket on a 3-node cluster on loopback (Debian's nats-server).
// Each size is written REPEAT times under new names (as the checkpointer does) after one warm-up write; the table
// gives the median and the slowest, and the ratio folder / store of the medians (below 1: slower than the folder).
//
//   npx tsx bench/jetstream-checkpoint.ts [--sizes 1,8,32] [--repeat 5]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { type CheckpointStore, FileCheckpointStore, jetStreamCheckpointStore } from "../src/index.js";
import { startNatsCluster, startNatsServer } from "../test/nats/server.js";

const { values } = parseArgs({
  options: { sizes: { type: "string", default: "1,8,32" }, repeat: { type: "string", default: "5" } },
});
const SIZES = values.sizes.split(",").map(Number);
const REPEAT = Number(values.repeat);

interface Row {
  store: string;
  mib: number;
  writeP50: number;
  writeMax: number;
  readP50: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(name: string, store: CheckpointStore): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mib of SIZES) {
    const data = randomBytes(mib * 2 ** 20);
    await store.write(`warm-up-${mib}`, data);
    const writes: number[] = [];
    const reads: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const file = `state-bench-${mib}-${i}.full`;
      let t = performance.now();
      await store.write(file, data);
      writes.push(performance.now() - t);
      t = performance.now();
      const back = await store.read(file);
      reads.push(performance.now() - t);
      if (back?.length !== data.length)
        throw new Error(`${name}: read back ${back?.length} bytes of ${data.length}`);
      await store.delete(file);
    }
    await store.delete(`warm-up-${mib}`);
    rows.push({
      store: name,
      mib,
      writeP50: median(writes),
      writeMax: Math.max(...writes),
      readP50: median(reads),
    });
    process.stderr.write(`${name} ${mib} MiB: write ${median(writes).toFixed(1)} ms\n`);
  }
  await store.close?.();
  return rows;
}

const folder = mkdtempSync(path.join(tmpdir(), "spate-bench-js-ckpt-"));
const rows: Row[] = [];
rows.push(...(await measure("folder", new FileCheckpointStore(folder))));
rmSync(folder, { recursive: true, force: true });

const server = await startNatsServer();
try {
  rows.push(
    ...(await measure("JetStream R1", jetStreamCheckpointStore({ servers: server.url, bucket: "bench" }))),
  );
} finally {
  await server.stop();
}
const cluster = await startNatsCluster(3);
try {
  rows.push(
    ...(await measure(
      "JetStream R3",
      jetStreamCheckpointStore({ servers: cluster.urls, bucket: "bench", replicas: 3 }),
    )),
  );
} finally {
  await cluster.stop();
}

const base = new Map(rows.filter((r) => r.store === "folder").map((r) => [r.mib, r.writeP50]));
process.stdout.write("| store | MiB | write p50 ms | write max ms | MiB/s | ratio | read p50 ms |\n");
process.stdout.write("| --- | --- | --- | --- | --- | --- | --- |\n");
for (const r of rows) {
  const ratio = base.get(r.mib)! / r.writeP50;
  process.stdout.write(
    `| ${r.store} | ${r.mib} | ${r.writeP50.toFixed(1)} | ${r.writeMax.toFixed(1)} | ${(r.mib / (r.writeP50 / 1000)).toFixed(0)} | ${ratio.toFixed(2)} | ${r.readP50.toFixed(1)} |\n`,
  );
}
