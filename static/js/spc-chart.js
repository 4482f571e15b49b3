/* QualityPulse — control chart page: draws the chart(s) and the capability panel with the local plotly bundle from
   the JSON endpoints, and redraws when the server says new points arrived (websocket, coalesced). All words come
   translated from the page (#spc-labels); this script holds no user-facing text. */
(function () {
  "use strict";
  var page = document.getElementById("spc-page");
  if (!page || typeof Plotly === "undefined") { return; }
  var L = JSON.parse(document.getElementById("spc-labels").textContent);
  var dataUrl = page.dataset.dataUrl, capabilityUrl = page.dataset.capabilityUrl, wsPath = page.dataset.wsPath;
  var chartDiv = document.getElementById("spc-chart");
  var histDiv = document.getElementById("spc-histogram");
  var capTable = document.getElementById("spc-capability");
  var note = document.getElementById("spc-chart-note");
  var status = document.getElementById("spc-live-status");
  var form = document.getElementById("spc-filters");
  var COLORS = { point: "#1d4ed8", center: "#166534", limit: "#b91c1c", zone: "#94a3b8", spec: "#7c3aed", signal: "#dc2626" };

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; }).replace(/%%/g, "%");
  }
  function number(v, digits) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits === undefined ? 3 : digits); }

  function query() {
    var params = new URLSearchParams();
    ["since", "until"].forEach(function (name) {
      var value = form.elements[name].value;
      if (value) { params.set(name, value.length === 16 ? value + ":00" : value); }  // read in the site's zone
    });
    if (form.elements.lot.value) { params.set("lot", form.elements.lot.value); }
    params.set("max_points", String(Math.max(600, Math.min(6000, Math.round(chartDiv.clientWidth * 3)))));
    return params;
  }

  // A step line only needs the points where its value changes (plus the last): constant limits become two points,
  // which keeps the SVG zone bands light however many points are drawn.
  function steps(x, y) {
    var sx = [], sy = [];
    for (var i = 0; i < y.length; i++) {
      if (i === 0 || i === y.length - 1 || y[i] !== y[i - 1]) { sx.push(x[i]); sy.push(y[i]); }
    }
    return { x: sx, y: sy };
  }

  function line(x, y, name, color, dash, axis, width) {
    var compact = steps(x, y);
    x = compact.x; y = compact.y;
    return { type: "scattergl", mode: "lines", x: x, y: y, name: name, line: { color: color, dash: dash || "solid", width: width || 1.5, shape: "hv" },
             hoverinfo: "skip", xaxis: axis.x, yaxis: axis.y, showlegend: axis.legend };
  }

  // centre + kσ per point; below the centre never under the LCL (R, S, MR, p … charts floor it at 0).
  function offset(chart, k) {
    return chart.center.map(function (c, i) {
      var s = chart.sigma[i], lcl = chart.lcl[i];
      if (c === null || s === null) { return null; }
      return k < 0 && lcl !== null ? Math.max(c + k * s, lcl) : c + k * s;
    });
  }

  function chartTraces(data, chart, position, axis) {
    var traces = [];
    var hover = chart.x.map(function (x, i) {
      var meta = chart.meta[i];
      var parts = [chart.label + ": " + number(chart.y[i], 4), x.replace("T", " ").slice(0, 19)];
      if (meta && meta.lot) { parts.push(L.lot + ": " + meta.lot); }
      if (meta && meta.late) { parts.push(L.late); }
      return parts.join("<br>");
    });
    // Zones as shaded bands (A: 2–3σ, B: 1–2σ, C: within 1σ), drawn first so the points lie on top. SVG traces:
    // only they fill between neighbours; a band is a handful of step lines even for thousands of points.
    if (chart.sigma.some(function (s) { return s !== null; })) {
      var bands = [[3, null, false], [2, "rgba(220,38,38,0.07)", L.zone2], [1, "rgba(217,119,6,0.07)", L.zone1],
                   [-1, "rgba(22,163,74,0.06)", false], [-2, "rgba(217,119,6,0.07)", false], [-3, "rgba(220,38,38,0.07)", false]];
      bands.forEach(function (band) {
        var edge = steps(chart.x, offset(chart, band[0]));
        traces.push({ type: "scatter", mode: "lines", x: edge.x, y: edge.y, name: band[2] || "",
                      line: { width: band[0] === 3 || band[0] === -3 ? 0 : 0.6, color: COLORS.zone, dash: "dot", shape: "hv" },
                      fill: band[1] ? "tonexty" : "none", fillcolor: band[1] || undefined, hoverinfo: "skip",
                      xaxis: axis.x, yaxis: axis.y, showlegend: Boolean(band[2]) && axis.legend });
      });
    }
    traces.push({ type: "scattergl", mode: "lines+markers", x: chart.x, y: chart.y, name: chart.label, text: hover, hoverinfo: "text",
                  marker: { size: 4, color: COLORS.point }, line: { width: 1, color: COLORS.point }, xaxis: axis.x, yaxis: axis.y, showlegend: false });
    traces.push(line(chart.x, chart.center, L.center, COLORS.center, "solid", axis));
    traces.push(line(chart.x, chart.ucl, L.ucl, COLORS.limit, "dash", axis));
    traces.push(line(chart.x, chart.lcl, L.lcl, COLORS.limit, "dash", axis));
    var marked = data.signals.filter(function (s) { return s.chart === chart.name; });
    if (marked.length) {
      traces.push({ type: "scattergl", mode: "markers", name: L.signals + " · " + chart.label, x: marked.map(function (s) { return s.ts; }),
                    y: marked.map(function (s) { return s.value; }),
                    text: marked.map(function (s) { return s.rule + ": " + s.description + "<br>" + s.ts.replace("T", " ").slice(0, 19); }),
                    hoverinfo: "text", marker: { size: 12, color: "rgba(220,38,38,0.15)", line: { color: COLORS.signal, width: 2 }, symbol: "circle" },
                    xaxis: axis.x, yaxis: axis.y, showlegend: axis.legend, meta: "signals" });
    }
    return traces;
  }

  function draw(data) {
    var charts = data.charts, two = charts.length > 1;
    var traces = [], shapes = [], annotations = [];
    charts.forEach(function (chart, position) {
      var axis = { x: position ? "x2" : "x", y: position ? "y2" : "y", legend: position === 0 };
      traces = traces.concat(chartTraces(data, chart, position, axis));
    });
    if (data.spec_applies) {
      var c = data.characteristic;
      [["usl", c.usl], ["lsl", c.lsl]].forEach(function (pair) {
        if (pair[1] === null) { return; }
        shapes.push({ type: "line", xref: "paper", x0: 0, x1: 1, yref: "y", y0: pair[1], y1: pair[1], line: { color: COLORS.spec, width: 1.5, dash: "longdash" } });
        annotations.push({ xref: "paper", x: 1, xanchor: "right", yref: "y", y: pair[1], text: L[pair[0]], showarrow: false, font: { color: COLORS.spec, size: 11 }, yshift: 8 });
      });
    }
    // A revision is marked where its limits start on the drawn series (its first judged point in the range).
    data.revisions.forEach(function (revision) {
      var at = revision.first_point_ts;
      if (!at || at === charts[0].x[0]) { return; }
      shapes.push({ type: "line", xref: "x", x0: at, x1: at, yref: "paper", y0: 0, y1: 1, line: { color: "#475569", width: 1, dash: "dot" } });
      annotations.push({ xref: "x", x: at, yref: "paper", y: 1, yanchor: "bottom", text: fmt(L.revision, { number: revision.number }),
                         hovertext: revision.method_label + " · " + revision.by + ": " + revision.reason, showarrow: false, font: { size: 10, color: "#475569" } });
    });
    // The container sets the size (plotly's responsive resize follows the container, not layout.height).
    chartDiv.style.height = (two ? 580 : 420) + "px";
    var layout = {
      margin: { l: 60, r: 20, t: 24, b: 40 }, autosize: true, hovermode: "closest", dragmode: "zoom",
      showlegend: true, legend: { orientation: "h", y: -0.12, font: { size: 11 } },
      xaxis: { type: "date", anchor: "y", showticklabels: !two },
      yaxis: { title: { text: charts[0].label }, domain: two ? [0.4, 1] : [0, 1], zeroline: false },
      shapes: shapes, annotations: annotations, paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
    };
    if (two) {
      layout.xaxis2 = { type: "date", anchor: "y2", matches: "x" };
      layout.yaxis2 = { title: { text: charts[1].label }, domain: [0, 0.3], zeroline: false };
    }
    Plotly.react(chartDiv, traces, layout, { responsive: true, displaylogo: false });
    chartDiv.dataset.points = String(data.returned_points);
    chartDiv.dataset.signals = String(data.signals.length);
    if (!data.total_points) { note.textContent = L.no_points; }
    else if (data.decimated) { note.textContent = fmt(L.decimated, { shown: data.returned_points, total: data.total_points }); }
    else { note.textContent = fmt(L.all_points, { total: data.total_points }); }
    drawSignalTable(data.signals);
    var lots = document.getElementById("spc-lots");
    lots.innerHTML = "";
    data.lots.forEach(function (lot) { var option = document.createElement("option"); option.value = lot; lots.appendChild(option); });
  }

  // The recent-signals table, refreshed with every redraw (newest first, as the server renders it).
  function drawSignalTable(signals) {
    var body = document.querySelector("#spc-signals tbody");
    if (!body) { return; }
    body.innerHTML = "";
    if (!signals.length) {
      var empty = document.createElement("tr"), cell = document.createElement("td");
      cell.colSpan = 4; cell.className = "empty"; cell.textContent = L.no_signals;
      empty.appendChild(cell); body.appendChild(empty);
    }
    signals.slice(-20).reverse().forEach(function (s) {
      var tr = document.createElement("tr");
      [s.ts.replace("T", " ").slice(0, 19), s.chart, s.rule, number(s.value, 4)].forEach(function (text, i) {
        var cell = document.createElement("td");
        if (i === 2) { var badge = document.createElement("span"); badge.className = "badge badge-bad"; badge.title = s.description; badge.textContent = text; cell.appendChild(badge); }
        else { cell.textContent = text; }
        cell.className = i === 3 ? "num" : (i === 0 ? "nowrap" : "");
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
  }

  function row(label, value, ci) {
    var tr = document.createElement("tr");
    [label, number(value), ci ? "[" + number(ci[0]) + ", " + number(ci[1]) + "]" : "—"].forEach(function (text, i) {
      var cell = document.createElement(i ? "td" : "th");
      cell.textContent = text;
      if (i) { cell.className = "num"; }
      tr.appendChild(cell);
    });
    return tr;
  }

  function drawCapability(result) {
    capTable.innerHTML = "";
    if (!result) {
      Plotly.purge(histDiv);
      histDiv.hidden = true;
      var p = document.createElement("p"); p.className = "empty"; p.textContent = L.no_capability; capTable.appendChild(p);
      return;
    }
    histDiv.hidden = false;
    var edges = result.histogram.edges, counts = result.histogram.counts;
    var centers = counts.map(function (_c, i) { return (edges[i] + edges[i + 1]) / 2; });
    var traces = [{ type: "bar", x: centers, y: counts, width: edges[1] - edges[0], name: L.frequency, marker: { color: "#93c5fd", line: { color: "#1d4ed8", width: 0.5 } } }];
    if (result.curve.y) { traces.push({ type: "scatter", mode: "lines", x: result.curve.x, y: result.curve.y, name: L.fitted, line: { color: "#0f172a", width: 2 } }); }
    var shapes = [], annotations = [];
    [["lsl", result.spec.lsl], ["usl", result.spec.usl], ["nominal", result.spec.target]].forEach(function (pair) {
      if (pair[1] === undefined || pair[1] === null) { return; }
      var color = pair[0] === "nominal" ? COLORS.center : COLORS.spec;
      shapes.push({ type: "line", x0: pair[1], x1: pair[1], yref: "paper", y0: 0, y1: 1, line: { color: color, width: 2, dash: "dash" } });
      annotations.push({ x: pair[1], yref: "paper", y: 1, yanchor: "bottom", text: L[pair[0]], showarrow: false, font: { color: color, size: 11 } });
    });
    Plotly.react(histDiv, traces, { autosize: true, margin: { l: 45, r: 15, t: 22, b: 30 }, bargap: 0, showlegend: false, shapes: shapes, annotations: annotations },
                 { responsive: true, displaylogo: false });
    var indices = result.indices || {}, within = indices.within || {}, overall = indices.overall || {};
    var table = document.createElement("table");
    var head = document.createElement("thead");
    head.innerHTML = "<tr><th scope='col'></th><th scope='col' class='num'></th><th scope='col' class='num'></th></tr>";
    head.querySelectorAll("th")[0].textContent = L.index;
    head.querySelectorAll("th")[2].textContent = fmt(L.ci, { level: Math.round((indices.confidence || 0.95) * 100) });
    table.appendChild(head);
    var body = document.createElement("tbody");
    body.appendChild(row("Cp", within.Cp, within.Cp_ci));
    body.appendChild(row("Cpk", within.Cpk, within.Cpk_ci));
    body.appendChild(row("Pp", overall.Pp, overall.Pp_ci));
    body.appendChild(row("Ppk", overall.Ppk, overall.Ppk_ci));
    function fact(label, text) {
      var tr = document.createElement("tr");
      tr.innerHTML = "<th></th><td class='num' colspan='2'></td>";
      tr.querySelector("th").textContent = label;
      tr.querySelector("td").textContent = text;
      body.appendChild(tr);
    }
    fact(L.n, String(result.n));
    fact(L.expected_ppm, number(overall.expected_ppm && overall.expected_ppm.total, 1));
    fact(L.observed_ppm, number(indices.observed_ppm && indices.observed_ppm.total, 1));
    if (indices.normality) { fact(L.normality, number(indices.normality.p_value, 4)); }
    table.appendChild(body);
    capTable.appendChild(table);
  }

  var loading = false, again = false;
  function load() {
    if (loading) { again = true; return; }
    loading = true;
    var params = query();
    var capParams = new URLSearchParams(params); capParams.delete("max_points");
    Promise.all([
      fetch(dataUrl + "?" + params.toString(), { credentials: "same-origin" }).then(function (r) { return r.json(); }),
      fetch(capabilityUrl + "?" + capParams.toString(), { credentials: "same-origin" }).then(function (r) { return r.json(); }),
    ]).then(function (answers) {
      if (answers[0].charts) { draw(answers[0]); }
      drawCapability(answers[1].capability);
      chartDiv.dataset.ready = "true";
    }).catch(function () { /* the next update retries */ }).then(function () {
      loading = false;
      if (again) { again = false; setTimeout(load, 300); }
    });
  }

  // Live: the server pushes a nudge per evaluated delivery; redraw at most every 2 s however many arrive.
  var pending = null, lastDraw = 0, retry = 1000;
  function nudge() {
    if (pending) { return; }
    var wait = Math.max(0, 2000 - (Date.now() - lastDraw));
    pending = setTimeout(function () { pending = null; lastDraw = Date.now(); load(); }, wait);
  }
  function connect() {
    if (!("WebSocket" in window)) { return; }
    var socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + wsPath);
    socket.onopen = function () { retry = 1000; status.textContent = L.live; status.className = "badge badge-good"; };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "chart.update" && !form.elements.until.value) { nudge(); }
    };
    socket.onclose = function (event) {
      status.textContent = L.offline; status.className = "badge badge-warn";
      if (event.code === 4403 || event.code === 4404) { return; }
      setTimeout(connect, retry); retry = Math.min(retry * 2, 30000);
    };
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  form.addEventListener("reset", function () { setTimeout(load, 0); });
  load();
  connect();
}());
