// The streaming UI's JSON API (/api/v1/streaming/, shaped as Spark's) and its Prometheus metrics report what the
// job's own listener saw: the same batches, records, delays, checkpoints and receivers.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import {
  ConfigError,
  type Logger,
  ManualClock,
  Receiver,
  SpateConf,
  type State,
  StateSpec,
  StreamingContext,
} from "spate";
import { afterEach, describe, expect, it } from "vitest";
import { isLoopback } from "../../src/ui/StreamingUI.js";
import { CountingListener, freePort, getJson, metricValue, parseMetrics } from "./support.js";

const API = "/api/v1/streaming";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Contexts and servers a test started, stopped after it whatever happens. */
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function uiContext(options: {
  clock?: ManualClock;
  appName?: string;
  conf?: Record<string, string | number | boolean>;
  logger?: Logger;
}): Promise<{ ssc: StreamingContext; clock: ManualClock; own: CountingListener }> {
  const clock = options.clock ?? new ManualClock(0);
  const ssc = new StreamingContext({
    batchDuration: 1000,
    clock,
    logger: options.logger,
    appName: options.appName ?? "ui-test",
    conf: { "spate.ui.port": await freePort(), ...options.conf },
  });
  const own = new CountingListener();
  ssc.addStreamingListener(own);
  cleanups.push(() => ssc.stop());
  return { ssc, clock, own };
}

async function metrics(ssc: StreamingContext) {
  const res = await fetch(`${ssc.uiUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return parseMetrics(await res.text());
}

function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

const portOf = (url: string | undefined) => Number(new URL(url!).port);

describe("the streaming UI's JSON API and metrics", () => {
  it("report the batches, records, state and checkpoints the job's own listener saw", async () => {
    const { ssc, clock, own } = await uiContext({ appName: "words <&> counts" });
    const dir = mkdtempSync(path.join(tmpdir(), "spate-ui-"));
    const input = path.join(dir, "in");
    mkdirSync(input);
    ssc.checkpoint(path.join(dir, "checkpoint"));
    const counts = ssc
      .textFileStream(input)
      .map((w) => [w, 1] as [string, number])
      .mapWithState(
        StateSpec.function((k: string, v: number | undefined, state: State<number>) => {
          state.update((state.getOption() ?? 0) + (v ?? 0));
          return [k, state.get()] as [string, number];
        }),
      )
      .uid("word-totals")
      .checkpoint(2000);
    counts.foreachRDD(
      async (rdd) => {
        await rdd.count();
      },
      { name: "count <words>" },
    );
    counts.count().foreachRDD(() => {});
    await ssc.start();
    expect(ssc.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const batches = [["a", "b"], ["a", "c", "d", "e"], [], ["b", "f", "a"], ["g"]];
    for (const [i, words] of batches.entries()) {
      if (words.length > 0) writeFileSync(path.join(input, `${i}.txt`), `${words.join("\n")}\n`);
      clock.advance(1000);
      await ssc.awaitIdle();
    }
    const url = `${ssc.uiUrl}${API}`;
    expect(own.completed.map((b) => b.batchTime)).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(own.receivedRecords).toBe(10);

    const stats = (await getJson(`${url}/statistics`)).body;
    expect(stats).toMatchObject({
      appName: "words <&> counts",
      state: "active",
      batchDuration: 1000,
      numReceivers: 0,
      numTotalCompletedBatches: own.completed.length,
      numRetainedCompletedBatches: own.completed.length,
      numTotalFailedBatches: 0,
      numActiveBatches: 0,
      numReceivedRecords: own.receivedRecords,
      numProcessedRecords: own.receivedRecords,
    });
    expect(Date.parse(stats.startTime)).toBeGreaterThan(0);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(stats.avgInputRate).toBeCloseTo(mean(own.completed.map((b) => b.numRecords)), 9);
    expect(stats.avgProcessingTime).toBe(Math.floor(mean(own.completed.map((b) => b.processingDelay!))));
    expect(stats.avgSchedulingDelay).toBe(Math.floor(mean(own.completed.map((b) => b.schedulingDelay!))));
    expect(stats.avgTotalDelay).toBe(Math.floor(mean(own.completed.map((b) => b.totalDelay!))));

    // Newest first, as Spark; every field from the job's own BatchInfo.
    const all = (await getJson<any[]>(`${url}/batches`)).body;
    expect(all.map((b) => b.batchId)).toEqual([5000, 4000, 3000, 2000, 1000]);
    for (const b of all) {
      const mine = own.completed.find((o) => o.batchTime === b.batchId)!;
      expect(b).toMatchObject({
        batchTime: new Date(b.batchId).toISOString(),
        status: "COMPLETED",
        batchDuration: 1000,
        inputSize: mine.numRecords,
        schedulingDelay: mine.schedulingDelay,
        processingTime: mine.processingDelay,
        totalDelay: mine.totalDelay,
        numActiveOutputOps: 0,
        numCompletedOutputOps: 2,
        numFailedOutputOps: 0,
        numTotalOutputOps: 2,
      });
      expect(b.firstFailureReason).toBeUndefined();
      // Named outputs keep their name; the others are named by their kind.
      expect(b.outputOperations.map((o: any) => [o.outputOpId, o.name, o.status])).toEqual([
        [0, "count <words>", "succeeded"],
        [1, "foreachRDD", "succeeded"],
      ]);
      expect(b.outputOperations[0].description).toMatch(/^foreachRDD-\S+ of word-totals$/);
      expect(mine.outputOperations.map((o) => o.name)).toEqual(["count <words>", "foreachRDD"]);
      // One time format: ISO strings, the batch id in ms.
      expect(b.submissionTime).toBe(new Date(mine.submissionTime).toISOString());
      expect(b.processingStartTime).toBe(new Date(mine.processingStartTime!).toISOString());
      expect(b.processingEndTime).toBe(new Date(mine.processingEndTime!).toISOString());
    }
    // What the file stream read for each batch.
    const fileStream = all[0].streamIdToNumRecords && Object.keys(all[0].streamIdToNumRecords)[0];
    expect(all.find((b) => b.batchId === 2000).streamIdToDescription).toEqual({
      [fileStream]: `1.txt in ${input}`,
    });
    expect(all.find((b) => b.batchId === 3000).streamIdToDescription).toEqual({
      [fileStream]: `no new files in ${input}`,
    });
    // What each batch changed in the state: keys written (a, b · a, c, d, e · none · b, f, a · g), removed, held.
    expect(
      [...all]
        .reverse()
        .map((b) => b.stateChanges.map((c: any) => [c.operatorId, c.written, c.removed, c.keys])),
    ).toEqual([
      [["word-totals", 2, 0, 2]],
      [["word-totals", 4, 0, 5]],
      [["word-totals", 0, 0, 5]],
      [["word-totals", 3, 0, 6]],
      [["word-totals", 1, 0, 7]],
    ]);
    expect(own.completed.at(-1)!.stateChanges).toEqual([
      { operatorId: "word-totals", written: 1, removed: 0, keys: 7 },
    ]);
    // The data checkpoints written after each batch.
    expect(all.find((b) => b.batchId === 3000).checkpoints).toEqual([]);
    const cp4000 = all.find((b) => b.batchId === 4000).checkpoints;
    expect(cp4000).toHaveLength(1);
    expect(cp4000[0]).toMatchObject({
      operatorId: "word-totals",
      kind: "mapWithState",
      batchId: 4000,
      batchTime: new Date(4000).toISOString(),
      entries: own.checkpoints[1]!.entries,
      bytes: own.checkpoints[1]!.bytes,
    });
    expect(Date.parse(cp4000[0].writtenAt)).toBeGreaterThan(0);
    // The checkpoint history, newest first.
    const history = (await getJson<any[]>(`${url}/checkpoints`)).body;
    expect(history.map((c) => [c.operatorId, c.batchId, c.mode])).toEqual(
      own.checkpoints.map((c) => [c.operatorId, c.batchTime, c.mode]).reverse(),
    );
    expect(history[0]).toEqual(cp4000[0]);
    // Paging: offset and limit over the newest-first list; none given: every batch.
    expect((await getJson<any[]>(`${url}/batches?offset=1&limit=2`)).body.map((b) => b.batchId)).toEqual([
      4000, 3000,
    ]);
    expect((await getJson<any[]>(`${url}/batches?offset=4`)).body.map((b) => b.batchId)).toEqual([1000]);
    expect(
      (await getJson<any[]>(`${url}/batches?limit=1&status=completed`)).body.map((b) => b.batchId),
    ).toEqual([5000]);
    expect((await getJson<any[]>(`${url}/batches?offset=9`)).body).toEqual([]);
    for (const q of ["limit=0", "offset=-1", "offset=x", "limit=1.5"]) {
      expect((await getJson(`${url}/batches?${q}`)).status, q).toBe(400);
    }
    expect((await getJson(`${url}/batches?status=completed`)).body).toEqual(all);
    expect((await getJson(`${url}/batches?status=COMPLETED&status=queued`)).body).toEqual(all);
    expect((await getJson(`${url}/batches?status=queued,processing`)).body).toEqual([]);
    const bad = await getJson(`${url}/batches?status=finished`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain("finished");

    const one = await getJson(`${url}/batches/4000`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(all[1]);
    const ops = (await getJson<any[]>(`${url}/batches/4000/operations`)).body;
    expect(ops).toHaveLength(2);
    expect(ops[0]).toMatchObject({ outputOpId: 0, name: "count <words>", status: "succeeded" });
    expect(ops[0].duration).toBe(Date.parse(ops[0].endTime) - Date.parse(ops[0].startTime));
    expect((await getJson(`${url}/batches/4000/operations/1`)).body).toEqual(ops[1]);
    expect((await getJson(`${url}/batches/4000/operations/2`)).status).toBe(404);
    expect((await getJson(`${url}/batches/4500`)).status).toBe(404);
    expect((await getJson(`${url}/batches/soon`)).status).toBe(404);
    expect((await getJson(`${url}/batches/4500/operations`)).status).toBe(404);

    const inputs = (await getJson<any[]>(`${url}/inputs`)).body;
    expect(inputs).toEqual([
      {
        streamId: expect.stringMatching(/^textFileStream-/),
        kind: "textFileStream",
        numRecords: 10,
        avgEventRate: 2,
      },
    ]);
    expect((await getJson(`${url}/receivers`)).body).toEqual([]);

    // Seven distinct words; data checkpoints every 2 s of batch time: after batches 2000 and 4000.
    expect(own.checkpoints.map((c) => c.batchTime)).toEqual([2000, 4000]);
    const operators = (await getJson<any[]>(`${url}/operators`)).body;
    expect(operators).toHaveLength(1);
    const last = own.checkpoints.at(-1)!;
    expect(operators[0]).toMatchObject({
      id: "word-totals",
      kind: "mapWithState",
      numPartitions: 1,
      numKeys: 7,
      numCheckpoints: 2,
      lastCheckpoint: {
        batchId: 4000,
        batchTime: new Date(4000).toISOString(),
        mode: last.mode,
        entries: last.entries,
        bytes: last.bytes,
      },
      lastFullSnapshotBytes: own.checkpoints.findLast((c) => c.mode === "full")!.bytes,
    });
    expect(operators[0].name).toMatch(/^mapWithState at test\/ui\/api\.test\.ts:\d+ \(word-totals\)$/);
    expect(operators[0].estimatedBytes).toBeGreaterThan(0);

    const m = await metrics(ssc);
    const app = { app: "words <&> counts" };
    // The process's own metrics (prom-client's default collectors), labelled like the rest.
    expect(metricValue(m, "process_resident_memory_bytes", app)).toBeGreaterThan(0);
    expect(metricValue(m, "nodejs_heap_size_used_bytes", app)).toBeGreaterThan(0);
    expect(metricValue(m, "spate_streaming_batches_completed_total", app)).toBe(own.completed.length);
    expect(metricValue(m, "spate_streaming_batches_failed_total", app)).toBe(0);
    expect(metricValue(m, "spate_streaming_records_received_total", app)).toBe(own.receivedRecords);
    expect(metricValue(m, "spate_streaming_records_processed_total", app)).toBe(own.receivedRecords);
    for (const h of ["scheduling_delay", "processing_time", "total_delay"]) {
      expect(metricValue(m, `spate_streaming_${h}_seconds_count`)).toBe(own.completed.length);
    }
    expect(metricValue(m, "spate_streaming_processing_time_seconds_sum")).toBeCloseTo(
      own.completed.reduce((s, b) => s + b.processingDelay!, 0) / 1000,
      9,
    );
    expect(metricValue(m, "spate_streaming_batches_pending", { status: "queued" })).toBe(0);
    expect(metricValue(m, "spate_state_keys", { operator: "word-totals", kind: "mapWithState" })).toBe(7);
    expect(metricValue(m, "spate_state_estimated_bytes", { operator: "word-totals" })).toBe(
      operators[0].estimatedBytes,
    );
    expect(metricValue(m, "spate_checkpoint_last_bytes", { operator: "word-totals", mode: last.mode })).toBe(
      last.bytes,
    );
    expect(metricValue(m, "spate_checkpoint_written_bytes_total", { operator: "word-totals" })).toBe(
      own.checkpoints.reduce((s, c) => s + c.bytes, 0),
    );
    expect(metricValue(m, "spate_checkpoint_duration_seconds_count", { operator: "word-totals" })).toBe(2);

    // The page is served, with the app name escaped.
    const page = await fetch(`${ssc.uiUrl}/`);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain("words &#60;&#38;&#62; counts");
    expect(html).not.toContain("words <&> counts");
    expect(stats.resumedFrom).toBeUndefined();
    // Rendered on the server: cards, tables and batch rows linking to their pages, before any script runs.
    const text = html.replace(/<script[\s\S]*?<\/script>/g, "");
    expect(text).toMatch(/Completed batches<\/div><div class="value">5</);
    expect(text).toContain('<a href="batches/5000">');
    expect(text).toContain('<a href="batches/1000">');
    expect(text).toContain("word-totals");
    expect(text).toContain("count &#60;words&#62;");
    expect(text).toMatch(/id="checkpoints"><thead>.*<tbody><tr><td><a href="batches\/4000">/s);
    expect(text).not.toContain("Resumed from checkpoint");
    // A page of the batch table (server-rendered), with links to the newer and older pages.
    const pagedHtml = await (await fetch(`${ssc.uiUrl}/?offset=2&limit=2`)).text();
    const paged = /<div id="batchList">([\s\S]*?)<\/nav>/.exec(pagedHtml)![1]!;
    expect(paged).toContain('<a href="batches/3000">');
    expect(paged).toContain('<a href="batches/2000">');
    expect(paged).not.toContain('<a href="batches/4000">');
    expect(paged).toContain('href="?offset=0&amp;limit=2"');
    expect(paged).toContain('href="?offset=4&amp;limit=2"');
    expect(paged).toContain("batches 3–4 of 5 retained");
    // The fragments the page's script refreshes itself with are the same HTML.
    const frag = (await getJson(`${ssc.uiUrl}/fragments?offset=2&limit=2`)).body;
    expect(pagedHtml).toContain(frag.batchList);
    expect(frag.state).toBe("active");
    // A batch's page: its times, input, outputs with names, and checkpoints, without script.
    const batchHtml = await (await fetch(`${ssc.uiUrl}/batches/4000`)).text();
    expect(batchHtml).not.toContain("<script");
    expect(batchHtml).toContain("1970-01-01T00:00:04.000Z");
    expect(batchHtml).toContain(escapeHtml(`3.txt in ${input}`));
    expect(batchHtml).toMatch(/count &#60;words&#62;<\/td><td>foreachRDD-\S+ of word-totals/);
    expect(batchHtml).toMatch(/<td>word-totals<\/td><td>mapWithState<\/td><td>(full|delta)<\/td>/);
    expect(batchHtml).toMatch(
      /<td>word-totals<\/td><td class="num">3<\/td><td class="num">0<\/td><td class="num">6<\/td>/,
    );
    const unknownBatch = await fetch(`${ssc.uiUrl}/batches/4500`);
    expect(unknownBatch.status).toBe(404);
    expect(await unknownBatch.text()).toContain("No retained batch has the id 4500");

    // Queryable state: a key's state from the stores, read-only; keys are JSON.
    const state = (key: string, op = "word-totals") =>
      getJson(`${url}/state/${encodeURIComponent(op)}?key=${encodeURIComponent(key)}`);
    expect(await state('"a"')).toEqual({
      status: 200,
      body: { operator: "word-totals", kind: "mapWithState", key: "a", found: true, state: 3 },
    });
    expect((await state('"g"')).body).toMatchObject({ found: true, state: 1 });
    expect(await state('"zzz"')).toEqual({
      status: 200,
      body: { operator: "word-totals", kind: "mapWithState", key: "zzz", found: false },
    });
    const notJson = await state("a");
    expect(notJson.status).toBe(400);
    expect(notJson.body.message).toMatch(/not JSON/);
    expect((await state("null")).status).toBe(400); // JSON, but not a key
    expect((await getJson(`${url}/state/word-totals`)).status).toBe(400);
    const unknownOp = await state('"a"', "nope");
    expect(unknownOp.status).toBe(404);
    expect(unknownOp.body.message).toContain("word-totals (mapWithState)");
    expect(unknownOp.body.operators).toEqual([{ id: "word-totals", kind: "mapWithState" }]);
    // A stateless operator is not queryable either.
    expect((await state('"a"', fileStream)).status).toBe(404);
    // The state page: a GET form rendered on the server, and the answer under it.
    const statePage = await (await fetch(`${ssc.uiUrl}/state`)).text();
    expect(statePage).toContain('<form method="get" action="state"');
    expect(statePage).toContain('<option value="word-totals">word-totals (mapWithState)</option>');
    const answered = await fetch(`${ssc.uiUrl}/state?operator=word-totals&key=${encodeURIComponent('"a"')}`);
    expect(answered.status).toBe(200);
    const answeredHtml = await answered.text();
    expect(answeredHtml).toContain("&#34;found&#34;: true");
    expect(answeredHtml).toContain("&#34;state&#34;: 3");
    expect(answeredHtml).toContain('<option value="word-totals" selected>');
    const badKey = await fetch(`${ssc.uiUrl}/state?operator=word-totals&key=a`);
    expect(badKey.status).toBe(400);
    expect(await badKey.text()).toContain("is not JSON");
    const script = await fetch(`${ssc.uiUrl}/static/uPlot.iife.min.js`);
    expect(script.headers.get("content-type")).toMatch(/javascript/);
    expect(await script.text()).toContain("uPlot");
    expect((await fetch(`${ssc.uiUrl}/static/uPlot.min.css`)).status).toBe(200);

    // Stopping the context stops the server.
    const uiUrl = ssc.uiUrl!;
    await ssc.stop();
    expect(ssc.uiUrl).toBeUndefined();
    await expect(fetch(`${uiUrl}${API}/statistics`)).rejects.toThrow();
  });

  it("count a failed batch as completed and as failed, and keep serving the failed job until it is stopped", async () => {
    const errors: Array<[Record<string, unknown>, string]> = [];
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (fields, message) => errors.push([fields, message]),
    };
    const { ssc, clock, own } = await uiContext({ logger });
    let n = 0;
    ssc.queueStream([[1, 2], [3], [4]]).foreachRDD(
      async (rdd) => {
        await rdd.count();
        if (++n === 2) throw new Error("sink unavailable");
      },
      { name: "to the warehouse" },
    );
    await ssc.start();
    clock.advance(1000);
    await ssc.awaitIdle();
    clock.advance(1000);
    await expect(ssc.awaitIdle()).rejects.toThrow("sink unavailable");
    expect(ssc.state()).toBe("stopped");
    expect(own.failed).toBe(1);

    const url = `${ssc.uiUrl}${API}`;
    expect((await getJson(`${url}/statistics`)).body).toMatchObject({
      state: "stopped",
      numTotalCompletedBatches: own.completed.length,
      numTotalFailedBatches: 1,
    });
    const failed = (await getJson(`${url}/batches/2000`)).body;
    expect(failed).toMatchObject({ status: "COMPLETED", numFailedOutputOps: 1, numCompletedOutputOps: 0 });
    expect(failed.firstFailureReason).toContain("sink unavailable");
    expect(failed.outputOperations[0].status).toBe("failed");
    expect(failed.outputOperations[0].name).toBe("to the warehouse");
    // The log line of the failed batch names the output that failed.
    expect(errors.find(([, m]) => m.startsWith("batch failed"))?.[0]).toMatchObject({
      batchTime: 2000,
      output: "to the warehouse",
    });
    const m = await metrics(ssc);
    expect(metricValue(m, "spate_streaming_batches_completed_total")).toBe(own.completed.length);
    expect(metricValue(m, "spate_streaming_batches_failed_total")).toBe(own.failed);
    await ssc.stop();
    expect(ssc.uiUrl).toBeUndefined();
    await expect(fetch(`${url}/statistics`)).rejects.toThrow();
  });

  it("keep only spate.ui.retainedBatches completed batches, and count them all", async () => {
    const { ssc, clock, own } = await uiContext({ conf: { "spate.ui.retainedBatches": 3 } });
    ssc.queueStream([[1], [2, 2], [3, 3, 3], [4], [5], [6]]).foreachRDD(() => {});
    await ssc.start();
    for (let i = 0; i < 6; i++) clock.advance(1000);
    await ssc.awaitIdle();
    const url = `${ssc.uiUrl}${API}`;
    expect((await getJson(`${url}/statistics`)).body).toMatchObject({
      numTotalCompletedBatches: 6,
      numRetainedCompletedBatches: 3,
      numReceivedRecords: own.receivedRecords,
      avgInputRate: 1, // batches 4000..6000 held one record each
    });
    expect((await getJson<any[]>(`${url}/batches`)).body.map((b) => b.batchId)).toEqual([6000, 5000, 4000]);
    expect((await getJson(`${url}/batches/1000`)).status).toBe(404);
    expect(metricValue(await metrics(ssc), "spate_streaming_batches_completed_total")).toBe(6);
  });

  it("show receivers' status, restarts and errors from their listener events", async () => {
    class Flaky extends Receiver<string> {
      starts = 0;
      onStart() {
        if (++this.starts === 1) throw new Error("cannot connect");
        void this.store(["x", "y", "z"]);
        this.reportError("skipped a malformed line", new Error("bad UTF-8"));
      }
      onStop() {}
    }
    const { ssc, clock, own } = await uiContext({ conf: { "spate.receiver.restartDelay": 1000 } });
    const stream = ssc.receiverStream(new Flaky());
    stream.foreachRDD(() => {});
    await ssc.start();
    clock.advance(1000); // batch 1000; the receiver starts again
    await ssc.awaitIdle();
    await new Promise((r) => setTimeout(r, 20)); // let the restarted onStart store
    clock.advance(1000);
    await ssc.awaitIdle();
    expect(own.receivedRecords).toBe(3);

    const url = `${ssc.uiUrl}${API}`;
    const receivers = (await getJson<any[]>(`${url}/receivers`)).body;
    expect(receivers).toHaveLength(1);
    const r = receivers[0];
    expect(r).toMatchObject({
      streamId: stream.id,
      streamName: "Flaky",
      isActive: true,
      restarts: 1,
      lastErrorMessage: "skipped a malformed line",
      lastError: "Error: bad UTF-8",
      numErrors: 2, // the failed start and the reported error
      avgEventRate: 1.5,
    });
    // Records per second of each batch (1 s batches): the three records are in batch 1000 or 2000.
    expect(r.eventRates.map((e: number[]) => e[0])).toEqual([1000, 2000]);
    expect(r.eventRates.reduce((s: number, e: number[]) => s + e[1], 0)).toBe(3);
    expect(Date.parse(r.lastErrorTime)).toBeGreaterThan(0);
    expect((await getJson(`${url}/receivers/${stream.id}`)).body).toEqual(r);
    // Each batch says what it got from the receiver: blocks and records (no write-ahead log here).
    const described = (await getJson<any[]>(`${url}/batches`)).body.map((b) => [
      b.inputSize,
      b.streamIdToDescription[stream.id],
    ]);
    expect(described).toContainEqual([3, "1 block, 3 records"]);
    expect(described).toContainEqual([0, "0 blocks, 0 records"]);
    expect((await getJson(`${url}/receivers/nope`)).status).toBe(404);
    expect((await getJson(`${url}/statistics`)).body).toMatchObject({
      numReceivers: 1,
      numActiveReceivers: 1,
      numInactiveReceivers: 0,
    });
    expect((await getJson<any[]>(`${url}/inputs`)).body[0]).toMatchObject({
      kind: "receiverStream",
      numRecords: 3,
      receiver: r,
    });
    const m = await metrics(ssc);
    const labels = { stream: stream.id, receiver: "Flaky" };
    expect(metricValue(m, "spate_receiver_up", labels)).toBe(1);
    expect(metricValue(m, "spate_receiver_restarts", labels)).toBe(1);
    expect(metricValue(m, "spate_receiver_errors_total", labels)).toBe(2);
    expect(metricValue(m, "spate_streaming_records_received_total", { stream: stream.id })).toBe(3);
  });
});

describe("the streaming UI's state queries and resumed jobs", () => {
  it("look a key up in each partition's store or in the last window, and render any state as JSON", async () => {
    class Visit {
      constructor(
        readonly page: string,
        readonly at: Date,
      ) {}
    }
    const { ssc, clock } = await uiContext({ conf: { "spate.ui.stateQuery": "any" } });
    const pairs = ssc.queueStream<[string, number]>([
      [
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ],
      [
        ["a", 10],
        ["d", 4],
      ],
      [["b", 5]],
    ]);
    pairs
      .updateStateByKey(
        (values: number[], state: any) => {
          const s = state ?? { total: 0n, seen: new Set<number>(), byValue: new Map<number, Visit>() };
          for (const v of values) {
            s.total += BigInt(v);
            s.seen.add(v);
            s.byValue.set(v, new Visit(`/p/${v}`, new Date(v * 1000)));
          }
          return s;
        },
        { numPartitions: 3 },
      )
      .uid("rich")
      .foreachRDD(() => {}, { name: "sink" });
    pairs
      .reduceByKeyAndWindow(
        (a, b) => a + b,
        (a, b) => a - b,
        2000,
        1000,
      )
      .uid("window")
      .foreachRDD(() => {});
    pairs.count().print();
    expect(() => pairs.foreachRDD(() => {}, { name: " " })).toThrow(/non-empty string/);
    await ssc.start();
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await ssc.awaitIdle();
    }
    const url = `${ssc.uiUrl}${API}`;
    const state = (op: string, key: unknown) =>
      getJson(`${url}/state/${op}?key=${encodeURIComponent(JSON.stringify(key))}`);
    // Keys spread over three partitions; each is found wherever it is.
    for (const [key, total] of [
      ["a", "11"],
      ["b", "7"],
      ["c", "3"],
      ["d", "4"],
    ] as const) {
      const r = await state("rich", key);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ operator: "rich", kind: "updateStateByKey", key, found: true });
      expect(r.body.state.total).toEqual({ $type: "bigint", value: total });
    }
    expect((await state("rich", "a")).body.state).toEqual({
      total: { $type: "bigint", value: "11" },
      seen: { $type: "Set", items: [1, 10] },
      byValue: {
        $type: "Map",
        entries: [
          [1, { $type: "Visit", page: "/p/1", at: { $type: "Date", value: new Date(1000).toISOString() } }],
          [
            10,
            { $type: "Visit", page: "/p/10", at: { $type: "Date", value: new Date(10000).toISOString() } },
          ],
        ],
      },
    });
    expect((await state("rich", "e")).body.found).toBe(false);
    // A reduced window: the window the last batch computed (batches 2000 and 3000).
    expect((await state("window", "b")).body).toEqual({
      operator: "window",
      kind: "reduceByKeyAndWindow",
      key: "b",
      found: true,
      state: 5,
      updatedAt: new Date(3000).toISOString(),
    });
    expect((await state("window", "a")).body).toMatchObject({ found: true, state: 10 });
    // Only in batch 1000, out of the window: inverted out to 0 and kept (no filter function), as Spark's.
    expect((await state("window", "c")).body).toMatchObject({ found: true, state: 0 });
    expect((await state("window", "zz")).body.found).toBe(false);
    const unknown = await state("nope", "a");
    expect(unknown.status).toBe(404);
    expect(unknown.body.operators).toEqual([
      { id: "rich", kind: "updateStateByKey" },
      { id: "window", kind: "reduceByKeyAndWindow" },
    ]);
    // print keeps its kind as its name; a named foreachRDD its name, in the API and in the listener's events.
    const names = (await getJson<any[]>(`${url}/batches/3000/operations`)).body.map((o) => o.name);
    expect(names).toEqual(["sink", "foreachRDD", "print"]);
  });

  it("answer state queries only as spate.ui.stateQuery allows", async () => {
    const off = await uiContext({ conf: { "spate.ui.stateQuery": "off" } });
    off.ssc
      .queueStream<[string, number]>([[["a", 1]]])
      .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
      .uid("counts")
      .foreachRDD(() => {});
    await off.ssc.start();
    off.clock.advance(1000);
    await off.ssc.awaitIdle();
    const refused = await getJson(`${off.ssc.uiUrl}${API}/state/counts?key=%22a%22`);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain("spate.ui.stateQuery");
    expect((await fetch(`${off.ssc.uiUrl}/state`)).status).toBe(403);

    // The default (loopback) answers this machine's clients.
    const local = await uiContext({});
    local.ssc
      .queueStream<[string, number]>([[["a", 1]]])
      .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
      .uid("counts")
      .foreachRDD(() => {});
    await local.ssc.start();
    local.clock.advance(1000);
    await local.ssc.awaitIdle();
    expect((await getJson(`${local.ssc.uiUrl}${API}/state/counts?key=%22a%22`)).body).toMatchObject({
      found: true,
      state: 1,
    });
    expect(() => new SpateConf({ "spate.ui.stateQuery": "everyone" })).toThrow(ConfigError);
    // Which addresses count as this machine's.
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ["192.0.2.2", "::ffff:10.0.0.1", "fd00::2", "0.0.0.0", undefined]) {
      expect(isLoopback(a), String(a)).toBe(false);
    }
  });

  it("say from which checkpoint a job restored by getOrCreate resumed", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "spate-ui-resume-"));
    const input = path.join(dir, "in");
    mkdirSync(input);
    const clock = new ManualClock(0);
    const create = async () => {
      const ssc = new StreamingContext({
        batchDuration: 1000,
        clock,
        appName: "resumed",
        conf: { "spate.ui.port": await freePort() },
      });
      ssc
        .textFileStream(input)
        .map((w) => [w, 1] as [string, number])
        .updateStateByKey((vs: number[], s: number | undefined) => (s ?? 0) + vs.length)
        .uid("totals")
        .foreachRDD(() => {});
      return ssc;
    };
    const first = await StreamingContext.getOrCreate(path.join(dir, "checkpoint"), create);
    cleanups.push(() => first.stop());
    await first.start();
    expect((await getJson(`${first.uiUrl}${API}/statistics`)).body.resumedFrom).toBeUndefined();
    writeFileSync(path.join(input, "a.txt"), "x\ny\n");
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await first.awaitIdle();
    }
    await first.stop();

    const second = await StreamingContext.getOrCreate(path.join(dir, "checkpoint"), create);
    cleanups.push(() => second.stop());
    await second.start();
    const stats = (await getJson(`${second.uiUrl}${API}/statistics`)).body;
    expect(stats.resumedFrom).toEqual({
      checkpoint: second.restoredFrom!.checkpoint,
      batchId: 3000,
      batchTime: new Date(3000).toISOString(),
      writtenAt: expect.any(String),
    });
    const writtenAt = Date.parse(stats.resumedFrom.writtenAt);
    expect(writtenAt).toBeGreaterThan(Date.now() - 60_000);
    expect(writtenAt).toBeLessThanOrEqual(Date.now());
    const html = await (await fetch(`${second.uiUrl}/`)).text();
    expect(html).toMatch(/Resumed from checkpoint at batch 3,000 ms \(written <time datetime="[^"]+">/);
    expect(html).toContain(second.restoredFrom!.checkpoint);
  });
});

describe("the streaming UI's port", () => {
  it("moves to the next free port when it is taken, and each context reports only its own job", async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const a = await uiContext({ appName: "a", conf: { "spate.ui.port": port } });
    const b = await uiContext({ appName: "b", conf: { "spate.ui.port": port } });
    a.ssc.queueStream([[1], [2]]).foreachRDD(() => {});
    b.ssc
      .queueStream([
        [1, 1],
        [2, 2],
        [3, 3],
      ])
      .foreachRDD(() => {});
    await a.ssc.start();
    await b.ssc.start();
    const pa = portOf(a.ssc.uiUrl);
    const pb = portOf(b.ssc.uiUrl);
    expect(pa).toBeGreaterThan(port);
    expect(pb).toBeGreaterThan(port);
    expect(pa).not.toBe(pb);
    expect(Math.max(pa, pb)).toBeLessThanOrEqual(port + 16);
    for (let i = 0; i < 2; i++) a.clock.advance(1000);
    for (let i = 0; i < 3; i++) b.clock.advance(1000);
    await a.ssc.awaitIdle();
    await b.ssc.awaitIdle();
    const ma = await metrics(a.ssc);
    const mb = await metrics(b.ssc);
    expect(metricValue(ma, "spate_streaming_batches_completed_total", { app: "a" })).toBe(2);
    expect(metricValue(mb, "spate_streaming_batches_completed_total", { app: "b" })).toBe(3);
    expect(metricValue(mb, "spate_streaming_records_received_total")).toBe(b.own.receivedRecords);
    expect(ma.some((s) => s.labels.app === "b")).toBe(false);
  });

  it("is released when start() fails", async () => {
    const { ssc } = await uiContext({});
    const port = Number(ssc.conf.get("spate.ui.port"));
    ssc.checkpoint(mkdtempSync(path.join(tmpdir(), "spate-ui-")));
    ssc.queueStream([[1]]).foreachRDD(() => {});
    await expect(ssc.start()).rejects.toMatchObject({ code: "SPATE_NOT_REPLAYABLE" });
    expect(ssc.uiUrl).toBeUndefined();
    const server = await occupy(port); // would fail with EADDRINUSE had the UI kept it
    await new Promise((r) => server.close(r));
  });

  it("is off with spate.ui.port 0; SPATE_UI_PORT replaces the default, and a port in the conf wins", async () => {
    // The test setup sets SPATE_UI_PORT=0, so contexts in tests bind nothing unless they ask.
    expect(process.env.SPATE_UI_PORT).toBe("0");
    const ssc = new StreamingContext({ batchDuration: 1000, clock: new ManualClock(0) });
    cleanups.push(() => ssc.stop());
    ssc.queueStream([[1]]).foreachRDD(() => {});
    await ssc.start();
    expect(ssc.uiUrl).toBeUndefined();

    expect(new SpateConf().get("spate.ui.port")).toBe(0);
    expect(new SpateConf({ "spate.ui.port": "4041" }).get("spate.ui.port")).toBe(4041);
    const saved = process.env.SPATE_UI_PORT;
    try {
      delete process.env.SPATE_UI_PORT;
      expect(new SpateConf().get("spate.ui.port")).toBe(4040);
      process.env.SPATE_UI_PORT = "5050";
      expect(new SpateConf().get("spate.ui.port")).toBe(5050);
      expect(new SpateConf().get("spate.ui.host")).toBe("127.0.0.1");
      process.env.SPATE_UI_PORT = "http";
      expect(() => new SpateConf()).toThrow(ConfigError);
      expect(() => new SpateConf()).toThrow(/SPATE_UI_PORT/);
      expect(new SpateConf({ "spate.ui.port": 0 }).get("spate.ui.port")).toBe(0);
    } finally {
      process.env.SPATE_UI_PORT = saved;
    }
    expect(() => new SpateConf({ "spate.ui.port": 70000 })).toThrow(ConfigError);
  });
});
