/* QualityPulse — live alarm list. Renders the open alarms the page was served with, then merges the alarm events the
   server pushes over the websocket (/ws/alarms/): by alarm id, the higher version wins. Reconnects with backoff and
   resumes after the last event id it has; a "resync" (too much missed) reloads the page. Sound for new critical and
   major alarms once the user enabled it (browsers allow audio only after a click; the choice is remembered).
   All words come translated from the page (#alarm-live-labels); this script holds no user-facing text. */
(function () {
  "use strict";
  var configNode = document.getElementById("alarm-live-config");
  if (!configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var L = JSON.parse(document.getElementById("alarm-live-labels").textContent);
  var rows = document.getElementById("alarm-rows");
  var countNode = document.getElementById("alarm-unack-count");
  var status = document.getElementById("alarm-live-status");
  var note = document.getElementById("alarm-live-note");
  var soundToggle = document.getElementById("alarm-sound-toggle");
  var ackTemplate = document.getElementById("alarm-ack-template");
  var SEVERITY_RANK = { critical: 4, major: 3, minor: 2, warning: 1 };
  var SOUND_KEY = "qp.alarmSound";
  var baseTitle = document.title;
  var alarms = {};
  var cursor = config.cursor || 0;
  var socket = null, retryMs = 1000, pinger = null, retryTimer = null;

  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }
  var plantClock = null;
  try {  // the plant's own time zone, written as the rest of the UI writes times (2026-11-28 13:19:43)
    plantClock = new Intl.DateTimeFormat("sv-SE", { timeZone: config.timeZone || undefined, year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  } catch (e) { plantClock = null; }
  function when(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    if (isNaN(d)) { return iso; }
    return plantClock ? plantClock.format(d) : d.toISOString();
  }

  // ---- state -------------------------------------------------------------------------------------------------
  function merge(snapshot, shelved) {
    var before = alarms[snapshot.id];
    if (before && before.version >= snapshot.version) { return null; }
    snapshot.shelved = !!shelved;
    alarms[snapshot.id] = snapshot;
    return { before: before || null, after: snapshot };
  }
  function calls(change) {  // a new critical/major alarm, or one that became active and unacknowledged again
    var a = change.after, b = change.before;
    if (a.shelved || a.state !== "active_unacknowledged" || config.sounding.indexOf(a.severity) < 0) { return false; }
    return !b || b.state !== "active_unacknowledged" || SEVERITY_RANK[a.severity] > SEVERITY_RANK[b.severity];
  }
  function openAlarms() {
    return Object.keys(alarms).map(function (id) { return alarms[id]; })
      .filter(function (a) { return a.state !== "closed"; })
      .sort(function (x, y) {
        var ux = x.state === "active_unacknowledged" ? 1 : 0, uy = y.state === "active_unacknowledged" ? 1 : 0;
        if (ux !== uy) { return uy - ux; }
        if (SEVERITY_RANK[x.severity] !== SEVERITY_RANK[y.severity]) { return SEVERITY_RANK[y.severity] - SEVERITY_RANK[x.severity]; }
        return (y.raised_at || "").localeCompare(x.raised_at || "");
      });
  }

  // ---- rendering ---------------------------------------------------------------------------------------------
  function ackButton(alarm) {
    if (!config.canRespond || !ackTemplate || alarm.acknowledged_at) { return null; }
    var form = ackTemplate.cloneNode(true);
    form.removeAttribute("id");
    form.hidden = false;
    form.className = "alarm-ack-form";
    form.action = ackTemplate.action.replace(/\/0\/acknowledge\/$/, "/" + alarm.id + "/acknowledge/");
    var button = el("button", { type: "submit", "class": "btn btn-small btn-danger alarm-ack" }, L.acknowledge);
    form.appendChild(button);
    form.addEventListener("submit", acknowledge);
    return form;
  }
  function row(alarm) {
    var tr = el("tr", { "class": "alarm-row sev-" + alarm.severity + " state-" + alarm.state + (alarm.shelved ? " is-shelved" : ""),
                        "data-alarm-id": String(alarm.id), "data-state": alarm.state, "data-version": String(alarm.version) });
    var sev = el("td");
    sev.appendChild(el("span", { "class": "sev-badge sev-" + alarm.severity }, L.severity[alarm.severity] || alarm.severity));
    tr.appendChild(sev);
    var title = el("td");
    title.appendChild(el("a", { href: alarm.url }, alarm.title));
    if (alarm.shelved) { title.appendChild(el("span", { "class": "badge alarm-shelved" }, L.shelved)); }
    tr.appendChild(title);
    tr.appendChild(el("td", { "class": "mono small" }, [alarm.line, alarm.equipment, alarm.characteristic].filter(Boolean).join(" · ")));
    var state = el("td", {}, L.state[alarm.state] || alarm.state);
    if (alarm.acknowledged_by) { state.appendChild(el("div", { "class": "small muted" }, fmt(L.acknowledgedBy, { user: alarm.acknowledged_by }))); }
    tr.appendChild(state);
    tr.appendChild(el("td", { "class": "num" }, alarm.trigger_value === null || alarm.trigger_value === undefined ? "—" : String(alarm.trigger_value)));
    tr.appendChild(el("td", { "class": "nowrap" }, when(alarm.raised_at)));
    tr.appendChild(el("td", { "class": "num" }, String(alarm.occurrences)));
    var actions = el("td");
    var ack = ackButton(alarm);
    if (ack) { actions.appendChild(ack); }
    tr.appendChild(actions);
    return tr;
  }
  function render() {
    var list = openAlarms();
    rows.textContent = "";
    if (!list.length) {
      var empty = el("tr", { "class": "alarm-empty" });
      empty.appendChild(el("td", { colspan: "8", "class": "empty" }, L.empty));
      rows.appendChild(empty);
    }
    list.forEach(function (a) { rows.appendChild(row(a)); });
    // Everyone still owes an acknowledgement, cleared or not (a cleared alarm cannot be closed before it).
    var unacknowledged = list.filter(function (a) { return !a.acknowledged_at && !a.shelved; }).length;
    countNode.textContent = String(unacknowledged);
    countNode.parentNode.classList.toggle("has-unacknowledged", unacknowledged > 0);
    document.title = (unacknowledged ? "(" + unacknowledged + ") " : "") + baseTitle;
  }

  // ---- sound -------------------------------------------------------------------------------------------------
  var audio = null;
  function soundEnabled() { try { return localStorage.getItem(SOUND_KEY) === "on"; } catch (e) { return false; } }
  function showSoundState() {
    var on = soundEnabled();
    soundToggle.setAttribute("aria-pressed", on ? "true" : "false");
    soundToggle.textContent = on ? L.soundOn : L.soundOff;
  }
  function beep(times) {
    rows.dataset.sounds = String(Number(rows.dataset.sounds || 0) + 1);  // what was asked for, for tests and humans
    if (!soundEnabled()) { return; }
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    audio = audio || new Ctx();
    if (audio.state === "suspended") { audio.resume(); }
    for (var i = 0; i < times; i++) {
      var start = audio.currentTime + i * 0.25;
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.2);
    }
  }
  soundToggle.addEventListener("click", function () {
    try { localStorage.setItem(SOUND_KEY, soundEnabled() ? "off" : "on"); } catch (e) { /* private mode: session only */ }
    showSoundState();
    if (soundEnabled()) { beep(1); }  // the click is the gesture that unlocks audio; the beep confirms it works
  });

  // ---- acknowledge -------------------------------------------------------------------------------------------
  function acknowledge(event) {
    event.preventDefault();
    var form = event.currentTarget;
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value }
    }).then(function (response) {
      // An expired session answers with the login page (HTML) or a 403 page, not with our JSON.
      var expired = response.redirected || response.status === 401 || response.status === 403;
      return response.json().then(function (body) { return { ok: response.ok, body: body, expired: expired }; },
                                  function () { return { ok: false, body: null, expired: expired }; });
    }).then(function (result) {
      if (result.ok && result.body && result.body.alarm) {
        if (merge(result.body.alarm, alarms[result.body.alarm.id] && alarms[result.body.alarm.id].shelved)) { render(); }
        return;
      }
      var error = result.body && result.body.error;
      note.textContent = fmt(L.failed, { message: error && error.message ? error.message
        : (result.expired ? L.sessionExpired : L.unexpectedReply) });
      button.disabled = false;
    }).catch(function () {
      note.textContent = fmt(L.failed, { message: L.unexpectedReply });
      button.disabled = false;
    });
  }

  // ---- websocket ---------------------------------------------------------------------------------------------
  function setStatus(text, cls) { status.textContent = text; status.className = "badge " + cls; document.body.dataset.alarmLive = cls === "badge-good" ? "live" : "down"; }
  function onEvents(message) {
    var ring = 0, changed = false;
    message.events.forEach(function (event) {
      var change = merge(event.snapshot, event.shelved);
      if (!change) { return; }
      changed = true;
      if (calls(change)) { ring = Math.max(ring, change.after.severity === "critical" ? 2 : 1); }
    });
    cursor = Math.max(cursor, message.cursor || 0);
    if (changed) { render(); }
    if (ring) { beep(ring); }
  }
  function connect() {
    retryTimer = null;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/alarms/?" + config.query + "&after=" + cursor;
    socket = new WebSocket(url);
    socket.onopen = function () {
      retryMs = 1000;
      setStatus(L.live, "badge-good");
      pinger = setInterval(function () { if (socket.readyState === 1) { socket.send(JSON.stringify({ type: "ping" })); } }, 25000);
    };
    socket.onmessage = function (message) {
      var data = JSON.parse(message.data);
      if (data.type === "alarm.events") { onEvents(data); }
      else if (data.type === "resync") { note.textContent = L.reloading; location.reload(); }
    };
    socket.onclose = function () {
      clearInterval(pinger);
      setStatus(navigator.onLine === false ? L.offline : L.reconnecting, "badge-warn");
      var wait = retryMs + Math.floor(Math.random() * 300);
      retryMs = Math.min(retryMs * 2, 30000);
      retryTimer = setTimeout(connect, wait);
    };
  }
  window.addEventListener("offline", function () {  // the browser knows the network is gone: say so at once and
    setStatus(L.offline, "badge-warn");             // drop the socket instead of showing a silently stale page
    if (socket && socket.readyState <= 1) { socket.close(); }
  });
  window.addEventListener("online", function () {  // back on the network: don't wait out the backoff
    retryMs = 1000;
    if (retryTimer) { clearTimeout(retryTimer); connect(); }
  });

  JSON.parse(document.getElementById("alarm-live-initial").textContent).forEach(function (a) { merge(a, a.shelved); });
  showSoundState();
  render();
  if ("WebSocket" in window) { connect(); }
})();
