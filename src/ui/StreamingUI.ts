import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { type Context, Hono } from "hono";
import { InvalidKeyError, SpateError } from "../errors.js";
import type { Logger } from "../log.js";
import type { StreamingContext } from "../StreamingContext.js";
import { StreamingApi } from "./api.js";
import { batchPage, fragments, messagePage, statePage } from "./html.js";
import { statefulOperators } from "./operators.js";
import { streamingPage, UI_CSS } from "./page.js";
import { queryableOperators, queryState } from "./stateQuery.js";
import { type BatchStatus, StreamingJobProgressListener } from "./StreamingJobProgressListener.js";
import { StreamingMetrics } from "./StreamingMetrics.js";

/** Ports tried after the configured one when it is taken (Spark's spark.port.maxRetries). */
export const UI_PORT_RETRIES = 16;

export interface StreamingUIOptions {
  host: string;
  /** The first port tried; the next {@link UI_PORT_RETRIES} are tried when it is taken. */
  port: number;
  retainedBatches: number;
  /** Who may query state by key (spate.ui.stateQuery). */
  stateQuery: StateQueryAccess;
  log: Logger;
}

export type StateQueryAccess = "loopback" | "any" | "off";

/** Batches on one page of the main page's batch table. */
export const BATCHES_PER_PAGE = 50;

const STATUSES: readonly BatchStatus[] = ["completed", "processing", "queued"];

/** uPlot's script and style, read once from the installed package and served by every UI. */
let assets: { js: string; css: string } | undefined;
function uplotAssets(): { js: string; css: string } {
  if (!assets) {
    const require = createRequire(import.meta.url);
    assets = {
      js: readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
      css: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
    };
  }
  return assets;
}

function listen(server: Server, port: number, host: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      if (error.code === "EADDRINUSE") resolve(undefined);
      else reject(error);
    };
    const onListening = () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });
}

/**
 * The web UI of a running context (Spark's Streaming tab): a page of live charts and tables, a JSON API under
 * `/api/v1/streaming/` shaped as Spark's REST API, and Prometheus metrics at `/metrics`. Everything it shows comes
 * from a {@link StreamingJobProgressListener} it adds to the context, plus the sizes of state stores read when a
 * page or a scrape asks, so a running job pays nothing per record for it.
 */
export class StreamingUI {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly progress: StreamingJobProgressListener,
    readonly metrics: StreamingMetrics,
  ) {}

  /** Adds the UI's listener to `ssc` and serves the UI on the first free port from `options.port`. */
  static async start(ssc: StreamingContext, options: StreamingUIOptions): Promise<StreamingUI> {
    let progress: StreamingJobProgressListener | undefined;
    const operators = () => statefulOperators(ssc, lastGoodBatch(progress!));
    const metrics = new StreamingMetrics(ssc.appName, () => progress!, operators);
    progress = new StreamingJobProgressListener(ssc.batchDuration, options.retainedBatches, metrics);
    const api = new StreamingApi(ssc, progress, operators);
    const lookup = (operator: string, key: unknown) =>
      queryState(ssc, operator, key, lastGoodBatch(progress!));
    const app = buildApp(ssc, api, metrics, lookup, options);

    const last = Math.min(65535, options.port + UI_PORT_RETRIES);
    for (let port = options.port; port <= last; port++) {
      const server = createAdaptorServer({
        fetch: app.fetch,
        hostname: options.host,
        // Leave the process's own Request and Response alone: the UI lives inside the user's program.
        overrideGlobalObjects: false,
      }) as Server;
      const bound = await listen(server, port, options.host);
      if (bound === undefined) {
        options.log.warn(
          { port, next: port < last ? port + 1 : undefined },
          "the streaming UI's port is taken; trying the next",
        );
        continue;
      }
      // The UI never keeps a process alive on its own: a job keeps it alive while it runs.
      server.unref();
      const host = options.host.includes(":") ? `[${options.host}]` : options.host;
      const ui = new StreamingUI(server, `http://${host}:${bound}`, progress, metrics);
      ssc.addStreamingListener(progress);
      options.log.info({ url: ui.url }, "streaming UI started");
      return ui;
    }
    throw new SpateError(
      "SPATE_IO_ERROR",
      `The streaming UI could not listen on ${options.host}: ports ${options.port} to ${last} are all taken. Set ` +
        "spate.ui.port to a free port, or to 0 to run without the UI.",
    );
  }

  /** Stops serving (open connections included). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function lastGoodBatch(progress: StreamingJobProgressListener): number | undefined {
  const done = progress.retainedCompletedBatches();
  for (let i = done.length - 1; i >= 0; i--) {
    if (done[i]!.failureReason === undefined) return done[i]!.batchTime;
  }
  return undefined;
}

/** Whether a client address is this machine's (IPv4 127/8, IPv6 ::1, or IPv4-mapped loopback). */
const batchId = (raw: string) => (/^\d+$/.test(raw) ? Number(raw) : undefined);

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** Why a state query from this client is refused, or undefined when it may be answered. */
function stateQueryRefusal(c: Context, access: StateQueryAccess): string | undefined {
  if (access === "off") return "State queries are off (spate.ui.stateQuery is off).";
  if (access === "loopback" && !isLoopback(getConnInfo(c).remote.address)) {
    return (
      "State queries are answered only to clients on the job's machine (spate.ui.stateQuery is loopback); set it " +
      "to any to answer every client."
    );
  }
  return undefined;
}

/** A whole number >= `min` from a query parameter, `fallback` when absent, undefined when not such a number. */
function intParam(raw: string | undefined, fallback: number, min: number): number | undefined {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw)) return undefined;
  const n = Number(raw);
  return Number.isSafeInteger(n) && n >= min ? n : undefined;
}

type Lookup = (operator: string, key: unknown) => ReturnType<typeof queryState>;

/** Parses a state query's key: JSON, and a valid key. */
function parseKey(raw: string | undefined): { key: unknown } | { error: string } {
  if (raw === undefined) return { error: "Give the key to look up as ?key=<json>, e.g. ?key=%22user-42%22." };
  try {
    return { key: JSON.parse(raw) };
  } catch {
    return {
      error: `The key ${JSON.stringify(raw)} is not JSON; a string key needs its quotes (e.g. "user-42").`,
    };
  }
}

function buildApp(
  ssc: StreamingContext,
  api: StreamingApi,
  metrics: StreamingMetrics,
  lookup: Lookup,
  options: StreamingUIOptions,
): Hono {
  const log = options.log;
  const app = new Hono();
  const noStore = { "cache-control": "no-store" };

  app.onError((error, c) => {
    log.warn({ path: c.req.path, error }, "the streaming UI failed to answer a request");
    return c.json({ message: error instanceof Error ? error.message : String(error) }, 500);
  });
  app.notFound((c) => c.json({ message: `no such resource: ${c.req.path}` }, 404));

  /** The fragments of the main page, with the batch table at the page asked (?offset=&limit=). */
  const pageFragments = (c: Context) => {
    const offset = intParam(c.req.query("offset"), 0, 0) ?? 0;
    const limit = intParam(c.req.query("limit"), BATCHES_PER_PAGE, 1) ?? BATCHES_PER_PAGE;
    return fragments(
      api.statistics(),
      api.inputs(),
      api.operators(),
      { batches: api.batches(undefined, offset, limit), offset, limit, total: api.countBatches() },
      api.checkpoints().slice(0, 20),
    );
  };
  const page = (c: Context) => c.html(streamingPage(ssc.appName, pageFragments(c)), 200, noStore);
  app.get("/", page);
  app.get("/streaming", page);
  app.get("/fragments", (c) => c.json(pageFragments(c), 200, noStore));
  app.get("/batches/:batchId", (c) => {
    const id = batchId(c.req.param("batchId"));
    const b = id === undefined ? undefined : api.oneBatch(id);
    if (!b) {
      const message = `No retained batch has the id ${c.req.param("batchId")} (the UI keeps the last ${options.retainedBatches}).`;
      return c.html(messagePage(ssc.appName, "../", "Unknown batch", message), 404, noStore);
    }
    const inputs = ssc.graph.inputs.map((s) => ({ streamId: s.id, kind: s.op.kind }));
    return c.html(batchPage(ssc.appName, b, inputs), 200, noStore);
  });
  app.get("/state", (c) => {
    const refused = stateQueryRefusal(c, options.stateQuery);
    if (refused) return c.html(messagePage(ssc.appName, "", "State queries refused", refused), 403, noStore);
    const operators = queryableOperators(ssc);
    const operator = c.req.query("operator");
    const rawKey = c.req.query("key");
    if (operator === undefined || rawKey === undefined || rawKey === "") {
      return c.html(statePage(ssc.appName, { operators, operator, key: rawKey }), 200, noStore);
    }
    const parsed = parseKey(rawKey);
    let result: { json: unknown } | { error: string };
    let status: 200 | 400 | 404 = 200;
    if ("error" in parsed) {
      result = parsed;
      status = 400;
    } else {
      try {
        const answer = lookup(operator, parsed.key);
        result = answer ? { json: answer } : { error: `There is no stateful operator ${operator}.` };
        if (!answer) status = 404;
      } catch (e) {
        if (!(e instanceof InvalidKeyError)) throw e;
        result = { error: e.message };
        status = 400;
      }
    }
    return c.html(statePage(ssc.appName, { operators, operator, key: rawKey, result }), status, noStore);
  });
  app.get("/static/ui.css", (c) =>
    c.body(UI_CSS, 200, { "content-type": "text/css; charset=utf-8", "cache-control": "max-age=3600" }),
  );
  app.get("/static/uPlot.iife.min.js", (c) =>
    c.body(uplotAssets().js, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "max-age=3600",
    }),
  );
  app.get("/static/uPlot.min.css", (c) =>
    c.body(uplotAssets().css, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "max-age=3600",
    }),
  );

  app.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  const base = "/api/v1/streaming";
  app.get(`${base}/statistics`, (c) => c.json(api.statistics(), 200, noStore));
  app.get(`${base}/receivers`, (c) => c.json(api.receivers(), 200, noStore));
  app.get(`${base}/receivers/:streamId`, (c) => {
    const r = api.receiver(c.req.param("streamId"));
    return r
      ? c.json(r, 200, noStore)
      : c.json({ message: `unknown receiver: ${c.req.param("streamId")}` }, 404);
  });
  app.get(`${base}/inputs`, (c) => c.json(api.inputs(), 200, noStore));
  app.get(`${base}/operators`, (c) => c.json(api.operators(), 200, noStore));
  app.get(`${base}/batches`, (c) => {
    // As Spark, ?status= may repeat; spate also takes a comma-separated list, in any case.
    const asked = (c.req.queries("status") ?? [])
      .flatMap((s) => s.split(","))
      .map((s) => s.trim().toLowerCase());
    const unknown = asked.filter((s) => s !== "" && !STATUSES.includes(s as BatchStatus));
    if (unknown.length > 0) {
      return c.json(
        { message: `unknown batch status ${unknown.join(", ")}; use ${STATUSES.join(", ")}` },
        400,
      );
    }
    const offset = intParam(c.req.query("offset"), 0, 0);
    const limit = intParam(c.req.query("limit"), Number.POSITIVE_INFINITY, 1);
    if (offset === undefined || limit === undefined) {
      return c.json({ message: "offset must be a whole number >= 0, and limit one >= 1" }, 400);
    }
    const statuses = new Set(asked.filter((s) => s !== "") as BatchStatus[]);
    return c.json(api.batches(statuses, offset, limit), 200, noStore);
  });
  app.get(`${base}/checkpoints`, (c) => c.json(api.checkpoints(), 200, noStore));
  app.get(`${base}/state/:operator`, (c) => {
    const refused = stateQueryRefusal(c, options.stateQuery);
    if (refused) return c.json({ message: refused }, 403);
    const operator = c.req.param("operator");
    const parsed = parseKey(c.req.query("key"));
    if ("error" in parsed) return c.json({ message: parsed.error }, 400);
    let answer: ReturnType<Lookup>;
    try {
      answer = lookup(operator, parsed.key);
    } catch (e) {
      if (e instanceof InvalidKeyError) return c.json({ message: e.message }, 400);
      throw e;
    }
    if (!answer) {
      const known = queryableOperators(ssc).map((o) => `${o.id} (${o.kind})`);
      return c.json(
        {
          message:
            `There is no stateful operator ${operator}; ` +
            (known.length > 0 ? `the stateful ones are: ${known.join(", ")}.` : "this job has none."),
          operators: queryableOperators(ssc),
        },
        404,
      );
    }
    return c.json(answer, 200, noStore);
  });
  app.get(`${base}/batches/:batchId`, (c) => {
    const id = batchId(c.req.param("batchId"));
    const b = id === undefined ? undefined : api.oneBatch(id);
    return b
      ? c.json(b, 200, noStore)
      : c.json({ message: `unknown batch id: ${c.req.param("batchId")}` }, 404);
  });
  app.get(`${base}/batches/:batchId/operations`, (c) => {
    const id = batchId(c.req.param("batchId"));
    const ops = id === undefined ? undefined : api.operations(id);
    return ops
      ? c.json(ops, 200, noStore)
      : c.json({ message: `unknown batch id: ${c.req.param("batchId")}` }, 404);
  });
  app.get(`${base}/batches/:batchId/operations/:outputOpId`, (c) => {
    const id = batchId(c.req.param("batchId"));
    const ops = id === undefined ? undefined : api.operations(id);
    const op = ops?.find((o) => String(o.outputOpId) === c.req.param("outputOpId"));
    return op
      ? c.json(op, 200, noStore)
      : c.json(
          {
            message: `unknown output operation ${c.req.param("outputOpId")} of batch ${c.req.param("batchId")}`,
          },
          404,
        );
  });
  return app;
}
