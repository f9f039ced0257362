import { type Fragments, Html, html, layout } from "./html.js";

/** The style of every page of the UI, served at /static/ui.css. */
export const UI_CSS = `:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9; --card: #fff;
        --blue: #2f6fde; --green: #12925b; --red: #d0372f; --amber: #c27a04; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); }
a { color: var(--blue); text-decoration: none; }
a:hover { text-decoration: underline; }
header { display: flex; align-items: baseline; flex-wrap: wrap; gap: 14px; padding: 14px 24px; background: #1d2330;
         color: #fff; }
header h1 { margin: 0; font-size: 18px; font-weight: 600; }
header h1 a { color: #fff; }
header .brand { color: #9fb6ff; font-weight: 700; }
header .meta { color: #c3c9d5; font-size: 13px; }
header nav.top { margin-left: auto; display: flex; gap: 16px; }
header nav.top a { color: #c3c9d5; font-size: 13px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
        background: #e4e7ec; color: var(--fg); }
.pill.active, .pill.succeeded, .pill.completed, .pill.up { background: #d8f3e6; color: var(--green); }
.pill.stopped, .pill.failed, .pill.down { background: #fde2e0; color: var(--red); }
.pill.processing, .pill.running { background: #dfe9fd; color: var(--blue); }
.pill.queued, .pill.waiting { background: #fdf0d5; color: var(--amber); }
main { padding: 18px 24px 40px; max-width: 1400px; margin: 0 auto; }
.resumed { margin-bottom: 12px; padding: 8px 12px; border-radius: 6px; background: #dfe9fd; color: #1d3f80; }
.resumed:empty { display: none; }
#catchup:empty { display: none; }
#catchup { margin-bottom: 12px; padding: 8px 12px; border-radius: 6px; background: var(--card);
           border: 1px solid var(--line); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.metrics { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 12px; margin-bottom: 16px; }
.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 4px;
         min-height: 190px; }
.chart h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
.chart h3 span { color: var(--muted); font-weight: 400; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
          margin-bottom: 16px; overflow-x: auto; }
section h2 { margin: 2px 0 8px; font-size: 15px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; }
td.err, dd.err, div.err { color: var(--red); max-width: 620px; overflow-wrap: anywhere; white-space: pre-wrap; }
.empty, .muted { color: var(--muted); }
.empty { font-style: italic; }
.ops .pill { margin: 0 4px 2px 0; }
nav.pager { display: flex; gap: 16px; align-items: baseline; padding-top: 8px; }
nav.pager span { color: var(--muted); }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
form label { margin-right: 14px; }
form input, form select, form button { font: inherit; padding: 3px 6px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; }
#error { display: none; margin-bottom: 12px; padding: 8px 12px; border-radius: 6px; background: #fde2e0;
         color: var(--red); }
@media (max-width: 900px) { .metrics { grid-template-columns: 1fr; } }
`;

const METRICS = [
  ["inputRate", "Input rate", "records/s"],
  ["schedulingDelay", "Scheduling delay", "ms"],
  ["processingTime", "Processing time", "ms"],
  ["totalDelay", "Total delay", "ms"],
] as const;

/**
 * The streaming UI's main page: its cards and tables rendered on the server (readable without script), then
 * refreshed every second by its script, which fetches the same fragments again (`fragments`, with the page's
 * paging) and draws each metric's timeline and histogram (uPlot) from the batches. The timelines are on
 * `window.spateCharts`, the histograms on `window.spateHistograms`; each chart's element carries the number of
 * points (timelines) or batches (histograms) drawn in `data-points`, so that a browser test can see what was drawn.
 */
export function streamingPage(appName: string, f: Fragments): string {
  const raw = (s: string) => new Html(s);
  const charts = METRICS.map(
    ([id, title, unit]) =>
      html`<div class="chart"><h3>${title} <span>${unit}</span></h3><div id="chart-${id}" data-points="0"></div></div>
<div class="chart"><h3>${title} <span>histogram of batches</span></h3><div id="histogram-${id}" data-points="0"></div></div>`,
  );
  const body = html`<div id="error"></div>
<div class="resumed" id="resumed">${raw(f.resumed)}</div>
<div id="catchup">${raw(f.catchup)}</div>
<div class="cards" id="cards">${raw(f.cards)}</div>
<div class="metrics">${charts}</div>
<section><h2>Input streams and receivers</h2><table id="inputs">${raw(f.inputs)}</table></section>
<section><h2>Stateful operators</h2><table id="operators">${raw(f.operators)}</table></section>
<section><h2>Batches</h2><div id="batchList">${raw(f.batchList)}</div></section>
<section id="checkpoint-history"><h2>Checkpoint history <span class="muted">(newest first)</span></h2>
<table id="checkpoints">${raw(f.checkpoints)}</table></section>`;
  return layout({
    title: "Streaming",
    appName,
    base: "",
    head: html`<link rel="stylesheet" href="static/uPlot.min.css">`,
    header: html`<span id="state" class="pill ${f.state}">${f.state}</span>
  <span class="meta" id="meta">${raw(f.meta)}</span>`,
    body,
    scripts: html`<script src="static/uPlot.iife.min.js"></script>
<script>${raw(SCRIPT)}</script>`,
  });
}

const SCRIPT = /* js */ `
"use strict";
(function () {
  var API = "api/v1/streaming/";
  var METRICS = [
    ["inputRate", "records/s", "#2f6fde", function (b) { return b.inputSize * 1000 / b.batchDuration; }],
    ["schedulingDelay", "ms", "#c27a04", function (b) { return b.schedulingDelay; }],
    ["processingTime", "ms", "#12925b", function (b) { return b.processingTime; }],
    ["totalDelay", "ms", "#7a46c9", function (b) { return b.totalDelay; }]
  ];
  var BINS = 20;
  var HEIGHT = 160;
  var charts = {}, histograms = {};
  window.spateCharts = charts;
  window.spateHistograms = histograms;
  window.spateUpdates = 0;

  function isWallClock(t) { return t > 1e11; }
  function fmtNum(v) {
    var a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    return a < 10 && v !== Math.round(v) ? v.toFixed(1) : String(Math.round(v));
  }
  function width(el) { return Math.max(200, el.parentElement.clientWidth - 24); }
  var axis = { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e4e7ec" },
               font: "11px system-ui, sans-serif" };
  function yAxis() {
    return Object.assign({}, axis, { size: 48, space: 28,
      values: function (u, vals) { return vals.map(fmtNum); } });
  }
  function makeTimeline(name, unit, color, wallClock) {
    var el = document.getElementById("chart-" + name);
    return new uPlot({
      width: width(el), height: HEIGHT, legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: wallClock }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      // Time labels (one line, HH:MM:SS) get at least 90 px each, so that they never run into each other.
      axes: [Object.assign({}, axis, { space: 90, values: wallClock ? function (u, vals) {
        return vals.map(function (v) { return new Date(v * 1000).toLocaleTimeString([], { hour12: false }); });
      } : function (u, vals) { return vals.map(fmtNum); } }), yAxis()],
      series: [{}, { label: unit, stroke: color, width: 1.5, fill: color + "22", points: { size: 4 } }]
    }, [[], []], el);
  }
  function makeHistogram(name, unit, color) {
    var el = document.getElementById("histogram-" + name);
    return new uPlot({
      width: width(el), height: HEIGHT, legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: function (u, min, max) { return [min, max]; } },
                y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [Object.assign({}, axis, { space: 60, values: function (u, vals) { return vals.map(fmtNum); } }),
             Object.assign(yAxis(), { size: 40 })],
      series: [{}, { label: "batches", stroke: color, fill: color + "88", width: 1,
                     paths: uPlot.paths.bars({ size: [0.9, 80], align: 0 }), points: { show: false } }]
    }, [[], []], el);
  }
  window.addEventListener("resize", function () {
    METRICS.forEach(function (m) {
      if (charts[m[0]]) charts[m[0]].setSize({ width: width(document.getElementById("chart-" + m[0])), height: HEIGHT });
      if (histograms[m[0]]) histograms[m[0]].setSize({ width: width(document.getElementById("histogram-" + m[0])), height: HEIGHT });
    });
  });

  // Bins of equal width from the smallest value to the largest (Spark's histograms): each bar's left edge and count.
  function bins(ys) {
    if (ys.length === 0) return [[], []];
    var lo = Math.min.apply(null, ys), hi = Math.max.apply(null, ys);
    if (hi === lo) { hi = lo + 1; }
    var step = (hi - lo) / BINS, xs = [], counts = [];
    for (var i = 0; i <= BINS; i++) { xs.push(lo + i * step); counts.push(0); }
    ys.forEach(function (y) { counts[Math.min(BINS - 1, Math.floor((y - lo) / step))]++; });
    // Empty bins draw no bar (a zero-height bar would still draw its outline).
    for (var j = 0; j <= BINS; j++) if (counts[j] === 0) counts[j] = null;
    return [xs, counts];
  }

  function drawCharts(batches) {
    var done = batches.filter(function (b) { return b.status === "COMPLETED"; }).reverse();
    // The charts are made with the first batch, whose time says whether the x axis is a clock's.
    if (done.length === 0) return;
    var wallClock = isWallClock(done[0].batchId);
    METRICS.forEach(function (m) {
      var name = m[0];
      if (!charts[name]) charts[name] = makeTimeline(name, m[1], m[2], wallClock);
      if (!histograms[name]) histograms[name] = makeHistogram(name, m[1], m[2]);
      var xs = [], ys = [];
      done.forEach(function (b) {
        var y = m[3](b);
        if (y === undefined || y === null) return;
        xs.push(wallClock ? b.batchId / 1000 : b.batchId); // uPlot's time axis is in seconds
        ys.push(y);
      });
      charts[name].setData([xs, ys]);
      document.getElementById("chart-" + name).setAttribute("data-points", String(xs.length));
      histograms[name].setData(bins(ys));
      document.getElementById("histogram-" + name).setAttribute("data-points", String(ys.length));
    });
  }

  function drawFragments(f) {
    var state = document.getElementById("state");
    state.className = "pill " + f.state;
    state.textContent = f.state;
    ["meta", "resumed", "catchup", "cards", "inputs", "operators", "batchList", "checkpoints"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el.innerHTML !== f[id]) el.innerHTML = f[id];
    });
  }

  function get(path) {
    return fetch(path, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function refresh() {
    return Promise.all([get("fragments" + location.search), get(API + "batches?status=completed")]).then(function (res) {
      document.getElementById("error").style.display = "none";
      drawFragments(res[0]);
      drawCharts(res[1]);
      window.spateUpdates++;
    }).catch(function (e) {
      var box = document.getElementById("error");
      box.textContent = "Cannot reach the job: " + e.message + " (it may have stopped)";
      box.style.display = "block";
    });
  }
  function loop() { refresh().then(function () { setTimeout(loop, 1000); }); }
  loop();
})();
`;
