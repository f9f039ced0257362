// The streaming UI's HTML, rendered on the server from the JSON API's resources: the main page's fragments (cards,
// tables), which its script fetches again to refresh them, and the batch and state pages, which need no script.
import type {
  BatchJson,
  CheckpointJson,
  InputStreamJson,
  OperatorJson,
  OutputOperationJson,
  StreamingStatisticsJson,
} from "./api.js";

export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A tagged template that escapes every value, except {@link Html} (already rendered) and arrays of those. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

function render(v: unknown): string {
  if (v === undefined || v === null || v === false) return "";
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join("");
  return escapeHtml(String(v));
}

// ---- formats (the same on every page; the server's locale-independent forms) -------------------------------

export function fmtNum(x: number | undefined, digits = 0): string {
  if (x === undefined || x === null || Number.isNaN(x)) return "–";
  return x.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function fmtMs(x: number | undefined): string {
  if (x === undefined) return "–";
  return x < 1000 ? `${fmtNum(Math.round(x))} ms` : `${fmtNum(x / 1000, 2)} s`;
}

export function fmtBytes(x: number | undefined): string {
  if (x === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${fmtNum(x, i === 0 ? 0 : 1)} ${units[i]}`;
}

/** Batch times are wall-clock ms with the system clock; small numbers come from a manual clock. */
const isWallClock = (t: number) => t > 1e11;
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A time of day (the job's machine's time zone) with ms, or ms since 0 for a manual clock's batch times. */
export function fmtTime(ms: number | undefined): Html {
  if (ms === undefined) return html`–`;
  if (!isWallClock(ms)) return html`${fmtNum(ms)} ms`;
  const d = new Date(ms);
  const text = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return html`<time datetime="${d.toISOString()}">${text}</time>`;
}

/** A date and time, for times that may be days away (a job's start, a checkpoint's writing). */
export function fmtDateTime(iso: string | undefined): Html {
  if (iso === undefined) return html`–`;
  const d = new Date(iso);
  const text =
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return html`<time datetime="${iso}">${text}</time>`;
}

const fromIso = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

function fmtUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  if (h > 0) return `${h} h ${m % 60} min`;
  if (m > 0) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

const pill = (text: string, cls = text) => html`<span class="pill ${cls}">${text}</span>`;

/** A table: headers starting with `#` are numeric (right-aligned); a row is cells of text or Html. */
function table(head: string[], rows: unknown[][], empty: string): Html {
  const th = head.map((h) =>
    h.startsWith("#") ? html`<th class="num">${h.slice(1)}</th>` : html`<th>${h}</th>`,
  );
  const body =
    rows.length === 0
      ? html`<tr><td class="empty" colspan="${head.length}">${empty}</td></tr>`
      : rows.map(
          (cells) =>
            html`<tr>${cells.map((c, i) =>
              c instanceof ErrorCell
                ? html`<td class="err">${c.text}</td>`
                : head[i]!.startsWith("#")
                  ? html`<td class="num">${c ?? "–"}</td>`
                  : html`<td>${c ?? "–"}</td>`,
            )}</tr>`,
        );
  return html`<thead><tr>${th}</tr></thead><tbody>${body}</tbody>`;
}

class ErrorCell {
  constructor(readonly text: string) {}
}
const errorCell = (text: string | undefined) => (text ? new ErrorCell(text) : "–");

// ---- the main page's fragments -----------------------------------------------------------------------------

export interface BatchPage {
  batches: BatchJson[];
  offset: number;
  limit: number;
  total: number;
}

/** The parts of the main page its script refreshes, by element id (each the inner HTML of that element). */
export interface Fragments {
  state: string;
  meta: string;
  resumed: string;
  catchup: string;
  cards: string;
  inputs: string;
  operators: string;
  batchList: string;
  checkpoints: string;
}

export function fragments(
  s: StreamingStatisticsJson,
  inputs: InputStreamJson[],
  operators: OperatorJson[],
  page: BatchPage,
  checkpoints: CheckpointJson[],
): Fragments {
  return {
    state: s.state,
    meta: meta(s).text,
    resumed: resumed(s).text,
    catchup: catchUp(s),
    cards: cards(s).text,
    inputs: inputsTable(inputs).text,
    operators: operatorsTable(operators).text,
    batchList: batchList(page).text,
    checkpoints: checkpointsTable(checkpoints, true).text,
  };
}

function meta(s: StreamingStatisticsJson): Html {
  const parts: unknown[] = [];
  if (s.startTime) parts.push(html`started ${fmtDateTime(s.startTime)} · `);
  parts.push(html`batch interval ${fmtMs(s.batchDuration)}`);
  if (s.startTime) parts.push(html` · up ${fmtUptime(Date.now() - Date.parse(s.startTime))}`);
  return html`${parts}`;
}

function resumed(s: StreamingStatisticsJson): Html {
  const r = s.resumedFrom;
  if (!r) return html``;
  const at =
    r.batchId === undefined ? html`before its first batch completed` : html`at batch ${fmtTime(r.batchId)}`;
  return html`Resumed from checkpoint ${at} (written ${fmtDateTime(r.writtenAt)}, <code>${r.checkpoint}</code>)`;
}

/** After a restart: the batches it runs again or for the first time (the down time), and how far it is. */
function catchUp(s: StreamingStatisticsJson): string {
  const c = s.catchUp;
  if (!c) return "";
  if (c.endTime === undefined) {
    const left =
      c.batchesPerSecond > 0
        ? `, about ${fmtUptime((1000 * (c.batches - c.numCompletedBatches)) / c.batchesPerSecond)} left`
        : "";
    return escapeHtml(
      `Catching up after the restart: ${fmtNum(c.numCompletedBatches)} of ${fmtNum(c.batches)} batches ` +
        `(${fmtNum(c.downTimeBatches)} of down time), ${fmtNum(c.batchesPerSecond)} batches/s${left}`,
    );
  }
  return escapeHtml(
    `Caught up after the restart: ${fmtNum(c.batches)} batches (${fmtNum(c.downTimeBatches)} of down time) in ` +
      `${fmtUptime(Date.parse(c.endTime) - Date.parse(c.startTime))}, ${fmtNum(c.batchesPerSecond)} batches/s`,
  );
}

function cards(s: StreamingStatisticsJson): Html {
  const list: Array<[string, string]> = [
    ["Avg input rate", `${fmtNum(s.avgInputRate, 1)} rec/s`],
    ["Avg scheduling delay", fmtMs(s.avgSchedulingDelay)],
    ["Avg processing time", fmtMs(s.avgProcessingTime)],
    ["Avg total delay", fmtMs(s.avgTotalDelay)],
    [
      "Completed batches",
      fmtNum(s.numTotalCompletedBatches) +
        (s.numTotalFailedBatches > 0 ? ` (${s.numTotalFailedBatches} failed)` : ""),
    ],
    ["Active batches", fmtNum(s.numActiveBatches)],
    ["Records received", fmtNum(s.numReceivedRecords)],
    // Records whose function threw and that spate.errors.onRecordFailure dropped (skip or deadLetter).
    ["Records dropped", fmtNum(s.numFailedRecords)],
    ["Receivers", s.numReceivers === 0 ? "none" : `${s.numActiveReceivers} / ${s.numReceivers} active`],
  ];
  return html`${list.map(
    ([label, value]) =>
      html`<div class="card"><div class="label">${label}</div><div class="value">${value}</div></div>`,
  )}`;
}

/** A time of day as plain text followed by a space, for a cell's text (or nothing without a time). */
const timeText = (iso: string | undefined) =>
  iso === undefined ? "" : `${fmtTime(fromIso(iso)).text.replace(/<[^>]*>/g, "")} `;

function inputsTable(inputs: InputStreamJson[]): Html {
  return table(
    ["Stream", "Kind", "Status", "#Records", "#Avg rate (rec/s)", "#Restarts", "#Errors", "Last error"],
    inputs.map((i) => {
      const r = i.receiver;
      const status = !r
        ? pill("polled", "active")
        : r.isActive === undefined
          ? pill("not started", "queued")
          : r.isActive
            ? pill("running", "up")
            : pill("stopped", "down");
      const e = r ?? i;
      const err = e.lastErrorMessage ?? r?.lastError;
      const rec = i.lastRecovery;
      // An input that recovers on its own (a JetStream consumer re-created) shows its recoveries as restarts.
      const restarts = r ? fmtNum(r.restarts) : i.numRecoveries ? fmtNum(i.numRecoveries) : "–";
      const last = err
        ? new ErrorCell(`${timeText(e.lastErrorTime)}${err}`)
        : rec
          ? new ErrorCell(`${timeText(rec.time)}${rec.message}`)
          : "–";
      return [
        i.streamId,
        r ? `${i.kind} (${r.streamName})` : i.kind,
        status,
        fmtNum(i.numRecords),
        fmtNum(i.avgEventRate, 1),
        restarts,
        fmtNum(e.numErrors),
        last,
      ];
    }),
    "no input streams",
  );
}

function operatorsTable(ops: OperatorJson[]): Html {
  return table(
    [
      "Operator",
      "Kind",
      "#Partitions",
      "#Keys",
      "#Est. size",
      "#Checkpoints",
      "Last checkpoint",
      "#Bytes",
      "#Duration",
      "#Last full snapshot",
    ],
    ops.map((o) => {
      const c = o.lastCheckpoint;
      return [
        o.id,
        o.kind,
        fmtNum(o.numPartitions),
        fmtNum(o.numKeys),
        fmtBytes(o.estimatedBytes),
        fmtNum(o.numCheckpoints),
        c ? html`${c.mode} @ ${batchLink(c.batchId, "")} (${fmtNum(c.entries)} entries)` : "–",
        c ? fmtBytes(c.bytes) : "–",
        c ? fmtMs(Math.round(c.durationMs)) : "–",
        fmtBytes(o.lastFullSnapshotBytes),
      ];
    }),
    "no stateful operators",
  );
}

/** A link to a batch's page; `base` leads from the current page to the UI's root. */
const batchLink = (batchId: number, base: string) =>
  html`<a href="${base}batches/${batchId}">${fmtTime(batchId)}</a>`;

function outputPills(ops: OutputOperationJson[]): Html {
  return html`<div class="ops">${ops.map((o) => {
    const label = `#${o.outputOpId} ${o.name}${o.duration !== undefined ? ` ${fmtMs(o.duration)}` : ""}`;
    const title = `${o.description} · ${o.status}${o.failureReason ? ` · ${o.failureReason}` : ""}`;
    return html`<span class="pill ${o.status}" title="${title}">${label}</span>`;
  })}</div>`;
}

/** The batch table of one page of batches, with links to the newer and older pages. */
export function batchList(page: BatchPage): Html {
  const rows = page.batches.map((b) => [
    batchLink(b.batchId, ""),
    pill(b.status.toLowerCase()),
    fmtNum(b.inputSize),
    fmtMs(b.schedulingDelay),
    fmtMs(b.processingTime),
    fmtMs(b.totalDelay),
    outputPills(b.outputOperations),
    errorCell(b.failureReason ?? b.firstFailureReason),
  ]);
  const t = table(
    [
      "Batch time",
      "Status",
      "#Records",
      "#Scheduling delay",
      "#Processing time",
      "#Total delay",
      "Output operations",
      "Failure",
    ],
    rows,
    page.offset > 0 ? "no batches on this page" : "no batches yet",
  );
  const { offset, limit, total } = page;
  const link = (o: number, text: string) => html`<a href="?offset=${o}&amp;limit=${limit}">${text}</a>`;
  const newer = offset > 0 ? link(Math.max(0, offset - limit), "← newer") : html`<span>← newer</span>`;
  const older = offset + limit < total ? link(offset + limit, "older →") : html`<span>older →</span>`;
  const shown =
    page.batches.length === 0 ? "none" : `${fmtNum(offset + 1)}–${fmtNum(offset + page.batches.length)}`;
  return html`<table id="batches">${t}</table>
<nav class="pager">${newer} <span class="muted">batches ${shown} of ${fmtNum(total)} retained</span> ${older}</nav>`;
}

export function checkpointsTable(
  list: CheckpointJson[],
  linkBatches: boolean,
  empty = "no data checkpoints written yet",
): Html {
  return table(
    ["Batch", "Operator", "Kind", "Mode", "#Entries", "#Bytes", "#Duration", "Written"],
    list.map((c) => [
      linkBatches ? batchLink(c.batchId, "") : fmtTime(c.batchId),
      c.operatorId,
      c.kind,
      c.mode,
      fmtNum(c.entries),
      fmtBytes(c.bytes),
      fmtMs(c.durationMs),
      fmtTime(Date.parse(c.writtenAt)),
    ]),
    empty,
  );
}

// ---- pages without script -----------------------------------------------------------------------------------

/** A page of the UI around `body`; `base` leads to the UI's root (the pages below it use "../"). */
export function layout(options: {
  title: string;
  appName: string;
  base: string;
  header?: Html;
  body: Html;
  head?: Html;
  scripts?: Html;
}): string {
  const { title, appName, base } = options;
  const root = base || "./";
  return `<!doctype html>
${
  html`<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · ${appName} · spate streaming</title>
${options.head}
<link rel="stylesheet" href="${base}static/ui.css">
</head>
<body>
<header>
  <h1><a href="${root}"><span class="brand">spate</span> · ${appName}</a></h1>
  ${options.header}
  <nav class="top"><a href="${root}">Streaming</a><a href="${root}#checkpoint-history">Checkpoints</a><a href="${base}state">State</a></nav>
</header>
<main>
${options.body}
</main>
${options.scripts}
</body>
</html>`.text
}
`;
}

/** The page of one batch (Spark's BatchPage): its times and delays, input per source, outputs, checkpoints. */
export function batchPage(
  appName: string,
  b: BatchJson,
  inputs: Array<{ streamId: string; kind: string }>,
): string {
  const summary: Array<[string, unknown]> = [
    [
      "Batch time",
      html`${fmtTime(b.batchId)} <span class="muted">(${b.batchTime}, batch id ${b.batchId})</span>`,
    ],
    ["Status", pill(b.status.toLowerCase())],
    ["Batch duration", fmtMs(b.batchDuration)],
    ["Input records", fmtNum(b.inputSize)],
    ["Submitted", fmtTime(fromIso(b.submissionTime))],
    ["Processing started", fmtTime(fromIso(b.processingStartTime))],
    ["Processing ended", fmtTime(fromIso(b.processingEndTime))],
    ["Scheduling delay", fmtMs(b.schedulingDelay)],
    ["Processing time", fmtMs(b.processingTime)],
    ["Total delay", fmtMs(b.totalDelay)],
  ];
  if (b.failureReason) summary.push(["Failure", new ErrorCell(b.failureReason)]);
  const dl = html`<dl class="summary">${summary.map(
    ([k, v]) =>
      html`<dt>${k}</dt><dd${v instanceof ErrorCell ? html` class="err"` : ""}>${v instanceof ErrorCell ? v.text : v}</dd>`,
  )}</dl>`;
  const streams = new Set([
    ...inputs.map((i) => i.streamId),
    ...Object.keys(b.streamIdToNumRecords),
    ...Object.keys(b.streamIdToDescription),
  ]);
  const kindOf = new Map(inputs.map((i) => [i.streamId, i.kind]));
  const inputTable = table(
    ["Stream", "Kind", "#Records", "Description"],
    [...streams].map((id) => [
      id,
      kindOf.get(id) ?? "–",
      fmtNum(b.streamIdToNumRecords[id]),
      b.streamIdToDescription[id] ?? "–",
    ]),
    "no input streams",
  );
  const outputs = table(
    ["#Id", "Name", "Description", "Status", "Started", "#Duration", "Error"],
    b.outputOperations.map((o) => [
      String(o.outputOpId),
      o.name,
      o.description,
      pill(o.status),
      fmtTime(fromIso(o.startTime)),
      fmtMs(o.duration),
      errorCell(o.failureReason),
    ]),
    "no output operations",
  );
  const stateChanges = table(
    ["Operator", "#Keys written", "#Keys removed", "#Keys held"],
    b.stateChanges.map((c) => [c.operatorId, fmtNum(c.written), fmtNum(c.removed), fmtNum(c.keys)]),
    b.status === "COMPLETED" && !b.failureReason ? "no state kept in stores" : "not committed",
  );
  const body = html`<p><a href="../">← all batches</a></p>
<section><h2>Batch ${fmtTime(b.batchId)}</h2>${dl}</section>
<section><h2>Input</h2><table id="batch-inputs">${inputTable}</table></section>
<section><h2>Output operations</h2><table id="batch-outputs">${outputs}</table></section>
<section><h2>State changed by this batch</h2><table id="batch-state">${stateChanges}</table></section>
<section><h2>Data checkpoints written after this batch</h2><table id="batch-checkpoints">${checkpointsTable(
    b.checkpoints,
    false,
    "none after this batch",
  )}</table></section>`;
  return layout({ title: `Batch ${b.batchId}`, appName, base: "../", body });
}

/** A page saying what is missing (an unknown batch, a state query refused), with a way back. */
export function messagePage(appName: string, base: string, title: string, message: string): string {
  return layout({
    title,
    appName,
    base,
    body: html`<section><h2>${title}</h2><p>${message}</p><p><a href="${base}">← streaming</a></p></section>`,
  });
}

export interface StatePageInput {
  operators: Array<{ id: string; kind: string }>;
  operator?: string;
  key?: string;
  /** The answer, or an error saying why there is none. */
  result?: { json: unknown } | { error: string };
}

/** The state page: a form (GET, so it works without script) to look a key up in a stateful operator. */
export function statePage(appName: string, input: StatePageInput): string {
  const options = input.operators.map(
    (o) =>
      html`<option value="${o.id}"${o.id === input.operator ? html` selected` : ""}>${o.id} (${o.kind})</option>`,
  );
  const form =
    input.operators.length === 0
      ? html`<p class="empty">This job has no stateful operators.</p>`
      : html`<form method="get" action="state" id="state-form">
  <label>Operator <select name="operator">${options}</select></label>
  <label>Key (JSON) <input name="key" value="${input.key ?? ""}" placeholder='"user-42" or ["a", 1]' size="40"></label>
  <button type="submit">Look up</button>
</form>
<p class="muted">The key is JSON: a string needs its quotes (<code>"user-42"</code>). The answer is read-only, from the
job's current state; the same as <code>GET api/v1/streaming/state/&lt;operator&gt;?key=&lt;json&gt;</code>.</p>`;
  let result = html``;
  if (input.result && "error" in input.result) {
    result = html`<div id="state-result" class="err">${input.result.error}</div>`;
  } else if (input.result) {
    const r = input.result.json as { found: boolean };
    result = html`<div id="state-result"><p>${r.found ? pill("found", "succeeded") : pill("not found", "queued")}</p>
<pre>${JSON.stringify(input.result.json, null, 2)}</pre></div>`;
  }
  const body = html`<section><h2>Query state by key</h2>${form}${result}</section>`;
  return layout({ title: "State", appName, base: "", body });
}
