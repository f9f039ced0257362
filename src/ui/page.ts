const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/**
 * The streaming UI: one self-contained page (inline style and script, uPlot from /static) that polls the JSON API
 * every second and redraws. Its four charts are on `window.spateCharts`, and each chart's element carries the
 * number of points drawn in `data-points`, so that a browser test can see what was drawn.
 */
export function streamingPage(appName: string): string {
  return PAGE.replaceAll("__APP_NAME__", escapeHtml(appName));
}

const PAGE = /* html */ `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__APP_NAME__ · spate streaming</title>
<link rel="stylesheet" href="static/uPlot.min.css">
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f6f7f9; --card: #fff;
          --blue: #2f6fde; --green: #12925b; --red: #d0372f; --amber: #c27a04; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
         background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 14px; padding: 14px 24px; background: #1d2330; color: #fff; }
  header h1 { margin: 0; font-size: 18px; font-weight: 600; }
  header .brand { color: #9fb6ff; font-weight: 700; }
  header .meta { color: #c3c9d5; font-size: 13px; }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600;
          background: #e4e7ec; color: var(--fg); }
  .pill.active, .pill.succeeded, .pill.completed, .pill.up { background: #d8f3e6; color: var(--green); }
  .pill.stopped, .pill.failed, .pill.down { background: #fde2e0; color: var(--red); }
  .pill.processing, .pill.running { background: #dfe9fd; color: var(--blue); }
  .pill.queued, .pill.waiting { background: #fdf0d5; color: var(--amber); }
  main { padding: 18px 24px 40px; max-width: 1400px; margin: 0 auto; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .charts { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
  .chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px 4px; }
  .chart h3 { margin: 0 0 4px; font-size: 13px; font-weight: 600; }
  .chart h3 span { color: var(--muted); font-weight: 400; }
  section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px;
            margin-bottom: 16px; overflow-x: auto; }
  section h2 { margin: 2px 0 8px; font-size: 15px; }
  table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 10px 5px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; }
  td.num, th.num { text-align: right; }
  td.err { color: var(--red); max-width: 420px; overflow-wrap: anywhere; }
  .empty { color: var(--muted); font-style: italic; }
  .ops .pill { margin: 0 4px 2px 0; }
  #error { display: none; margin-bottom: 12px; padding: 8px 12px; border-radius: 6px; background: #fde2e0;
           color: var(--red); }
  #catchup:empty { display: none; }
  #catchup { margin-bottom: 12px; padding: 8px 12px; border-radius: 6px; background: var(--card);
             border: 1px solid var(--line); }
  @media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1><span class="brand">spate</span> · __APP_NAME__</h1>
  <span id="state" class="pill">…</span>
  <span class="meta" id="meta"></span>
</header>
<main>
  <div id="error"></div>
  <div id="catchup"></div>
  <div class="cards" id="cards"></div>
  <div class="charts">
    <div class="chart"><h3>Input rate <span>records/s</span></h3><div id="chart-inputRate" data-points="0"></div></div>
    <div class="chart"><h3>Scheduling delay <span>ms</span></h3><div id="chart-schedulingDelay" data-points="0"></div></div>
    <div class="chart"><h3>Processing time <span>ms</span></h3><div id="chart-processingTime" data-points="0"></div></div>
    <div class="chart"><h3>Total delay <span>ms</span></h3><div id="chart-totalDelay" data-points="0"></div></div>
  </div>
  <section><h2>Input streams and receivers</h2><table id="inputs"></table></section>
  <section><h2>Stateful operators</h2><table id="operators"></table></section>
  <section><h2>Recent batches</h2><table id="batches"></table></section>
</main>
<script src="static/uPlot.iife.min.js"></script>
<script>
"use strict";
(function () {
  var API = "api/v1/streaming/";
  var MAX_ROWS = 50;
  var CHARTS = [
    ["inputRate", "records/s", "#2f6fde", function (b) { return b.inputSize * 1000 / b.batchDuration; }],
    ["schedulingDelay", "ms", "#c27a04", function (b) { return b.schedulingDelay; }],
    ["processingTime", "ms", "#12925b", function (b) { return b.processingTime; }],
    ["totalDelay", "ms", "#7a46c9", function (b) { return b.totalDelay; }]
  ];
  var charts = {};
  window.spateCharts = charts;
  window.spateUpdates = 0;

  function h(tag, attrs) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === "text") e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === undefined || c === null) continue;
      e.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  function fmtNum(x, digits) {
    if (x === undefined || x === null) return "–";
    return Number(x).toLocaleString(undefined, { maximumFractionDigits: digits === undefined ? 0 : digits });
  }
  function fmtMs(x) {
    if (x === undefined || x === null) return "–";
    return x < 1000 ? fmtNum(x) + " ms" : fmtNum(x / 1000, 2) + " s";
  }
  function fmtBytes(x) {
    if (x === undefined || x === null) return "–";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return fmtNum(x, i === 0 ? 0 : 1) + " " + units[i];
  }
  // Batch times are wall-clock ms with the system clock; small numbers come from a manual clock.
  function isWallClock(t) { return t > 1e11; }
  function fmtBatchTime(t) {
    if (!isWallClock(t)) return fmtNum(t) + " ms";
    var d = new Date(t);
    return d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function fmtDuration(ms) {
    var s = Math.floor(ms / 1000), m = Math.floor(s / 60), hr = Math.floor(m / 60);
    if (hr > 0) return hr + " h " + (m % 60) + " min";
    if (m > 0) return m + " min " + (s % 60) + " s";
    return s + " s";
  }
  function pill(text, cls) { return h("span", { "class": "pill " + (cls || text), text: text }); }
  function table(id, head, rows, emptyText) {
    var t = document.getElementById(id);
    t.replaceChildren();
    var tr = h("tr");
    head.forEach(function (c) {
      var num = c.charAt(0) === "#";
      tr.appendChild(h("th", num ? { "class": "num", text: c.slice(1) } : { text: c }));
    });
    t.appendChild(h("thead", null, tr));
    var body = h("tbody");
    if (rows.length === 0) {
      body.appendChild(h("tr", null, h("td", { "class": "empty", colspan: String(head.length), text: emptyText })));
    }
    rows.forEach(function (cells) {
      var r = h("tr");
      cells.forEach(function (c, i) {
        var num = head[i].charAt(0) === "#";
        var td = h("td", num ? { "class": "num" } : null);
        if (c && typeof c === "object" && c.err !== undefined) { td.className = "err"; td.textContent = c.err; }
        else if (c && typeof c === "object") td.appendChild(c);
        else td.textContent = c === undefined || c === null ? "–" : String(c);
        r.appendChild(td);
      });
      body.appendChild(r);
    });
    t.appendChild(body);
  }

  function chartWidth(el) { return Math.max(240, el.parentElement.clientWidth - 24); }
  function makeChart(name, unit, color, wallClock) {
    var el = document.getElementById("chart-" + name);
    var opts = {
      width: chartWidth(el), height: 170,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: wallClock }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [
        { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e4e7ec" } },
        { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e4e7ec" }, size: 56,
          values: function (u, vals) { return vals.map(function (v) { return fmtNum(v, v < 10 ? 1 : 0); }); } }
      ],
      series: [{}, { label: unit, stroke: color, width: 1.5, fill: color + "22", points: { size: 4 } }]
    };
    return new uPlot(opts, [[], []], el);
  }
  window.addEventListener("resize", function () {
    CHARTS.forEach(function (c) {
      var u = charts[c[0]];
      if (u) u.setSize({ width: chartWidth(document.getElementById("chart-" + c[0])), height: 170 });
    });
  });

  function drawCharts(batches) {
    var done = batches.filter(function (b) { return b.status === "COMPLETED"; }).reverse();
    var wallClock = done.length > 0 && isWallClock(done[0].batchId);
    CHARTS.forEach(function (c) {
      var name = c[0];
      if (!charts[name]) charts[name] = makeChart(name, c[1], c[2], wallClock);
      // uPlot's time axis is in seconds.
      var xs = [], ys = [];
      done.forEach(function (b) {
        var y = c[3](b);
        if (y === undefined || y === null) return;
        xs.push(wallClock ? b.batchId / 1000 : b.batchId);
        ys.push(y);
      });
      charts[name].setData([xs, ys]);
      document.getElementById("chart-" + name).setAttribute("data-points", String(xs.length));
    });
  }

  function drawHeader(s) {
    var state = document.getElementById("state");
    state.className = "pill " + s.state;
    state.textContent = s.state;
    var parts = ["batch interval " + fmtMs(s.batchDuration)];
    if (s.startTime) {
      parts.unshift("started " + new Date(s.startTime).toLocaleString(undefined, { hour12: false }));
      parts.push("up " + fmtDuration(Date.now() - Date.parse(s.startTime)));
    }
    document.getElementById("meta").textContent = parts.join(" · ");
    var cards = [
      ["Avg input rate", fmtNum(s.avgInputRate, 1) + " rec/s"],
      ["Avg scheduling delay", fmtMs(s.avgSchedulingDelay)],
      ["Avg processing time", fmtMs(s.avgProcessingTime)],
      ["Avg total delay", fmtMs(s.avgTotalDelay)],
      ["Completed batches", fmtNum(s.numTotalCompletedBatches) +
        (s.numTotalFailedBatches > 0 ? " (" + s.numTotalFailedBatches + " failed)" : "")],
      ["Active batches", fmtNum(s.numActiveBatches)],
      ["Records received", fmtNum(s.numReceivedRecords)],
      ["Receivers", s.numReceivers === 0 ? "none" : s.numActiveReceivers + " / " + s.numReceivers + " active"]
    ];
    // After a restart: the batches it runs again or for the first time (the down time), and how far it is.
    var c = s.catchUp, line = document.getElementById("catchup");
    line.textContent = !c ? "" : c.endTime === undefined
      ? "Catching up after the restart: " + fmtNum(c.numCompletedBatches) + " of " + fmtNum(c.batches) +
        " batches (" + fmtNum(c.downTimeBatches) + " of down time), " + fmtNum(c.batchesPerSecond) + " batches/s" +
        (c.batchesPerSecond > 0 ? ", about " + fmtDuration(1000 * (c.batches - c.numCompletedBatches) / c.batchesPerSecond) + " left" : "")
      : "Caught up after the restart: " + fmtNum(c.batches) + " batches (" + fmtNum(c.downTimeBatches) +
        " of down time) in " + fmtDuration(Date.parse(c.endTime) - Date.parse(c.startTime)) + ", " +
        fmtNum(c.batchesPerSecond) + " batches/s";
    var box = document.getElementById("cards");
    box.replaceChildren();
    cards.forEach(function (c) {
      box.appendChild(h("div", { "class": "card" }, h("div", { "class": "label", text: c[0] }),
        h("div", { "class": "value", text: c[1] })));
    });
  }

  function drawInputs(inputs) {
    table("inputs", ["Stream", "Kind", "Status", "#Records", "#Avg rate (rec/s)", "#Restarts", "#Errors", "Last error"],
      inputs.map(function (i) {
        var r = i.receiver;
        var status = !r ? pill("polled", "active") : r.isActive === undefined ? pill("not started", "queued")
          : r.isActive ? pill("running", "up") : pill("stopped", "down");
        var e = r || i;
        var err = e.lastErrorMessage || e.lastError;
        var rec = i.lastRecovery;
        return [i.streamId, r ? i.kind + " (" + r.streamName + ")" : i.kind, status, fmtNum(i.numRecords),
          fmtNum(i.avgEventRate, 1), r ? fmtNum(r.restarts) : i.numRecoveries ? fmtNum(i.numRecoveries) : "–",
          fmtNum(e.numErrors),
          err ? { err: (e.lastErrorTime ? fmtBatchTime(Date.parse(e.lastErrorTime)) + " " : "") + err }
            : rec ? { err: fmtBatchTime(Date.parse(rec.time)) + " " + rec.message } : "–"];
      }), "no input streams");
  }

  function drawOperators(ops) {
    table("operators", ["Operator", "Kind", "#Partitions", "#Keys", "#Est. size", "#Checkpoints",
      "Last checkpoint", "#Bytes", "#Duration", "#Last full snapshot"],
      ops.map(function (o) {
        var c = o.lastCheckpoint;
        return [o.id, o.kind, fmtNum(o.numPartitions), fmtNum(o.numKeys), fmtBytes(o.estimatedBytes),
          fmtNum(o.numCheckpoints), c ? c.mode + " @ " + fmtBatchTime(c.batchTime) + " (" + fmtNum(c.entries) + " entries)" : "–",
          c ? fmtBytes(c.bytes) : "–", c ? fmtMs(Math.round(c.durationMs)) : "–", fmtBytes(o.lastFullSnapshotBytes)];
      }), "no stateful operators");
  }

  function drawBatches(batches) {
    table("batches", ["Batch time", "Status", "#Records", "#Scheduling delay", "#Processing time", "#Total delay",
      "Output operations", "Failure"],
      batches.slice(0, MAX_ROWS).map(function (b) {
        var ops = h("div", { "class": "ops" });
        b.outputOperations.forEach(function (o) {
          var label = "#" + o.outputOpId + " " + o.name + (o.duration !== undefined ? " " + fmtMs(o.duration) : "");
          var p = pill(label, o.status);
          p.title = o.description + " · " + o.status + (o.failureReason ? " · " + o.failureReason : "");
          ops.appendChild(p);
        });
        var failure = b.failureReason || b.firstFailureReason;
        return [fmtBatchTime(b.batchId), pill(b.status.toLowerCase()), fmtNum(b.inputSize), fmtMs(b.schedulingDelay),
          fmtMs(b.processingTime), fmtMs(b.totalDelay), ops, failure ? { err: failure } : "–"];
      }), "no batches yet");
  }

  function get(path) {
    return fetch(API + path, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(path + ": HTTP " + r.status);
      return r.json();
    });
  }

  function refresh() {
    return Promise.all([get("statistics"), get("batches"), get("inputs"), get("operators")]).then(function (res) {
      document.getElementById("error").style.display = "none";
      drawHeader(res[0]);
      drawCharts(res[1]);
      drawInputs(res[2]);
      drawOperators(res[3]);
      drawBatches(res[1]);
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
</script>
</body>
</html>
`;
