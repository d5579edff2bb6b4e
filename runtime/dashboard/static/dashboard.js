// ego360 companion dashboard: one EventSource (/dash/events) drives the picture, the radar, the alert log,
// the stage latencies and the controls' state; the buttons call the control API (/api/*) with the token.
// Conventions: bearing 0 = the wearer's ahead (up on the radar), positive to the right.
"use strict";
(function () {
  const TOKEN = window.EGO360_TOKEN || "";
  const Q = "token=" + encodeURIComponent(TOKEN);
  const $ = (id) => document.getElementById(id);
  const ALERT_SHOWN_MS = 6000; // an alert stays on the radar this long
  const MAX_RANGE_M = 12; // radar edge; farther (or unmeasured) entities sit on the rim
  const dash = (window.dash = { roles: {}, entities: [], alerts: [], frames: 0, frameSums: [], state: null,
                                 stats: null, connected: false, ended: false });

  // -- picture: fetch the latest JPEG when the feed says there is one, one request at a time ------------
  const img = $("frame");
  let wanted = 0, loading = false;
  const probe = document.createElement("canvas");
  probe.width = 32; probe.height = 16;
  function loadFrame(seq) {
    loading = true;
    img.src = "/dash/frame.jpg?" + Q + "&seq=" + seq;
    img.dataset.seq = String(seq);
  }
  img.onload = () => {
    loading = false;
    dash.frames += 1;
    img.dataset.loaded = String(dash.frames);
    const ctx = probe.getContext("2d");
    ctx.drawImage(img, 0, 0, probe.width, probe.height);
    const px = ctx.getImageData(0, 0, probe.width, probe.height).data;
    let sum = 0;
    for (let i = 0; i < px.length; i += 1) sum = (sum * 31 + px[i]) % 1000000007;
    img.dataset.sum = String(sum);
    dash.frameSums.push(sum);
    if (dash.frameSums.length > 50) dash.frameSums.shift();
    if (wanted > Number(img.dataset.seq)) loadFrame(wanted);
  };
  img.onerror = () => { loading = false; };

  // -- radar -------------------------------------------------------------------------------------------
  const radar = $("radar");
  function polar(bearingDeg, r) {
    const a = (bearingDeg * Math.PI) / 180;
    return [radar.width / 2 + r * Math.sin(a), radar.height / 2 - r * Math.cos(a)];
  }
  function rangeRadius(distanceM, R) {
    if (distanceM === null || distanceM === undefined) return R;
    return R * Math.sqrt(Math.min(distanceM, MAX_RANGE_M) / MAX_RANGE_M);
  }
  function drawRadar() {
    const ctx = radar.getContext("2d");
    const W = radar.width, H = radar.height, R = W / 2 - 24, cx = W / 2, cy = H / 2;
    ctx.clearRect(0, 0, W, H);
    ctx.strokeStyle = "#2f3a44"; ctx.fillStyle = "#6d7985"; ctx.font = "10px sans-serif"; ctx.lineWidth = 1;
    for (const m of [1, 3, 6, MAX_RANGE_M]) {
      const r = rangeRadius(m, R);
      ctx.beginPath(); ctx.arc(cx, cy, r, 0, 2 * Math.PI); ctx.stroke();
      ctx.fillText(m + " m", cx + 3, cy - r + 11);
    }
    ctx.font = "12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (let h = 1; h <= 12; h += 1) {
      const [x, y] = polar(h * 30, R + 12);
      ctx.fillStyle = h % 3 === 0 ? "#c8d0d8" : "#6d7985";
      ctx.fillText(String(h), x, y);
    }
    const now = Date.now();
    const shown = dash.alerts.filter((a) => now - a.received_ms < ALERT_SHOWN_MS);
    for (const a of shown) { // a wedge at the alert's bearing, fading out
      if (!a.radar_ms) a.radar_ms = Date.now(); // when it first reached the radar
      const alpha = 1 - (now - a.received_ms) / ALERT_SHOWN_MS;
      const a0 = ((a.bearing_deg - 12 - 90) * Math.PI) / 180, a1 = ((a.bearing_deg + 12 - 90) * Math.PI) / 180;
      ctx.fillStyle = a.priority >= 3 ? `rgba(255,60,60,${0.45 * alpha})` : `rgba(255,170,40,${0.4 * alpha})`;
      ctx.beginPath(); ctx.moveTo(cx, cy); ctx.arc(cx, cy, R, a0, a1); ctx.closePath(); ctx.fill();
    }
    ctx.fillStyle = "#e6e6e6"; // the wearer, facing up
    ctx.beginPath(); ctx.moveTo(cx, cy - 9); ctx.lineTo(cx - 6, cy + 6); ctx.lineTo(cx + 6, cy + 6); ctx.closePath(); ctx.fill();
    const alerted = new Set(shown.map((a) => a.entity_id));
    for (const e of dash.entities) {
      const [x, y] = polar(e.bearing_deg, rangeRadius(e.distance_m, R));
      const colour = dash.roles[e.role] || dash.roles.none || "#b4b4b4";
      ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI);
      if (e.distance_m === null) { ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.stroke(); } else { ctx.fillStyle = colour; ctx.fill(); }
      if (alerted.has(e.entity_id)) { ctx.strokeStyle = "#ff5252"; ctx.lineWidth = 2; ctx.beginPath(); ctx.arc(x, y, 12, 0, 2 * Math.PI); ctx.stroke(); }
      ctx.fillStyle = "#e6e6e6"; ctx.font = "11px sans-serif";
      ctx.fillText("#" + e.entity_id, x, y - 15);
    }
    radar.dataset.entities = dash.entities.map((e) => `${e.entity_id}:${e.clock}:${e.distance_m ?? "?"}`).join(",");
    radar.dataset.alerts = shown.map((a) => a.id).join(",");
    radar.dataset.alertEntities = [...alerted].join(",");
  }
  setInterval(drawRadar, 250);

  function renderEntities() {
    const ul = $("entity-list");
    ul.innerHTML = "";
    for (const e of dash.entities) {
      const li = document.createElement("li");
      const dist = e.distance_m === null ? (e.distance_class || "distance unknown") : e.distance_m.toFixed(1) + " m";
      li.textContent = `#${e.entity_id} ${e.role} (${e.kind}) — ${e.clock} o'clock, ${e.bearing_deg.toFixed(0)}°, ${dist}, ${e.motion}`;
      ul.appendChild(li);
    }
  }

  // -- alert log -----------------------------------------------------------------------------------------
  function addAlert(a) {
    a.received_ms = Date.now();
    a.lag_ms = a.received_ms - a.spoken_unix_ms; // spoken → shown, same machine clock
    dash.alerts.push(a);
    const li = document.createElement("li");
    li.className = "p" + a.priority;
    li.dataset.id = a.id; li.dataset.entity = a.entity_id; li.dataset.clock = a.clock;
    li.dataset.lagMs = a.lag_ms.toFixed(0);
    const head = document.createElement("div");
    const lat = a.latency_ms === null ? "" : `, capture→earcon ${a.latency_ms.toFixed(0)} ms`;
    head.innerHTML = `<span class="muted">${a.video_t.toFixed(2)} s</span> <b>${a.clock} o'clock</b> `;
    const text = document.createElement("span");
    text.className = "text"; text.textContent = a.text;
    const info = document.createElement("span");
    info.className = "muted";
    info.textContent = ` (#${a.entity_id} ${a.role}, ${a.bearing_deg >= 0 ? "+" : ""}${a.bearing_deg.toFixed(0)}°, ${a.reason}${lat})`;
    head.append(text, info);
    li.appendChild(head);
    if (a.has_audio) {
      const audio = document.createElement("audio");
      audio.controls = true; audio.preload = "none";
      audio.src = `/dash/alert/${a.id}.wav?` + Q;
      li.appendChild(audio);
    }
    const ol = $("alerts");
    ol.insertBefore(li, ol.firstChild);
    $("alert-count").textContent = String(dash.alerts.length);
    drawRadar();
  }

  // An alert's sound grew (its words follow its earcon): keep the WAV in the page, so it still plays after
  // the run has ended and the server is gone.
  async function keepAudio(info) {
    const li = document.querySelector(`#alerts li[data-id="${info.id}"]`);
    const audio = li && li.querySelector("audio");
    if (!audio) return;
    try {
      const res = await fetch(`/dash/alert/${info.id}.wav`, { headers: { Authorization: "Bearer " + TOKEN } });
      if (!res.ok) return;
      const blob = await res.blob();
      if (audio.dataset.bytes && Number(audio.dataset.bytes) >= blob.size) return; // an older answer came late
      if (audio.src.startsWith("blob:")) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(blob);
      audio.dataset.bytes = String(blob.size);
      audio.dataset.seconds = String(info.seconds);
    } catch (err) { /* the run ended meanwhile: the last kept sound stays */ }
  }

  // -- stats and state -----------------------------------------------------------------------------------
  const fmt = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(1));
  function renderStats(s) {
    dash.stats = s;
    const body = $("stats").querySelector("tbody");
    body.innerHTML = "";
    for (const st of s.stages) {
      const tr = document.createElement("tr");
      for (const v of [st.name, st.count, fmt(st.p50_ms), fmt(st.p95_ms), st.dropped, st.queued]) {
        const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    const c = s.capture_to_earcon, d = s.dashboard;
    $("stats-extra").textContent = `capture→earcon p50 ${fmt(c.p50_ms)} / p95 ${fmt(c.p95_ms)} ms over ${c.spoken} alerts · ` +
      `frames read ${s.frames_read ?? "–"}, processed ${s.frames_processed ?? "–"} · dashboard JPEG ${fmt(d.encode.p50_ms)} ms, ` +
      `capture→JPEG p50 ${fmt(d.capture_to_jpeg.p50_ms)} ms, ${d.frames_encoded} encoded, ${d.frames_replaced} replaced`;
  }
  function renderState(st) {
    if (!st) return;
    dash.state = st;
    const mute = st.muted ? `<b class="on">muted</b> (${(st.mute_left_s / 60).toFixed(1)} min left)` : "not muted";
    $("state").innerHTML = `${mute} · verbosity <b>${st.verbosity}</b> · earcons <b>${st.earcons ? "on" : "off"}</b> · ` +
      `speech rate <b>${st.rate_wpm ?? "–"}</b> wpm`;
    $("state").dataset.muted = String(st.muted);
    $("verbosity").value = st.verbosity;
  }

  // -- controls: the wearer's actions on the control API -------------------------------------------------
  async function act(route, body) {
    const res = await fetch("/api/" + route, { method: "POST", headers: { Authorization: "Bearer " + TOKEN,
      "Content-Type": "application/json" }, body: body === undefined ? "" : JSON.stringify(body) });
    const data = await res.json();
    if (data.state) renderState(data.state);
    $("said").textContent = data.said ? `said: “${data.said}”` : `${data.action || route}: ${data.ok === false ? "refused" : (data.error || "done")}`;
    return data;
  }
  const actions = {
    repeat: () => act("repeat"), around: () => act("around"), unmute: () => act("unmute"),
    mute: () => act("mute", { minutes: Number($("mute-minutes").value) || 10 }),
    earcons: () => act("earcons"), faster: () => act("rate", { step: 1 }), slower: () => act("rate", { step: -1 }),
  };
  for (const b of document.querySelectorAll("button[data-action]")) b.addEventListener("click", () => actions[b.dataset.action]());
  $("verbosity").addEventListener("change", (ev) => act("verbosity", { level: ev.target.value }));

  // -- the feed ------------------------------------------------------------------------------------------
  const conn = $("conn");
  const es = new EventSource("/dash/events?" + Q);
  const on = (name, fn) => es.addEventListener(name, (ev) => fn(JSON.parse(ev.data)));
  es.onopen = () => { dash.connected = true; conn.textContent = "connected"; conn.className = "badge ok"; };
  es.onerror = () => { if (!dash.ended) { conn.textContent = "disconnected"; conn.className = "badge bad"; } };
  on("hello", (h) => {
    dash.roles = h.roles;
    $("title").textContent = (h.live ? "live" : "replay") + (h.title ? " · " + h.title : "");
    $("legend").innerHTML = Object.entries(h.roles).map(([r, c]) => `<span><i style="background:${c}"></i>${r}</span>`).join("");
  });
  on("frame", (f) => {
    wanted = f.seq;
    if (!loading) loadFrame(f.seq);
    $("frame-info").textContent = `frame ${f.frame} · ${f.video_t.toFixed(2)} s · capture→JPEG ${f.lag_ms.toFixed(0)} ms`;
    $("clock").textContent = `${f.video_t.toFixed(1)} s`;
  });
  on("alert", addAlert);
  on("audio", keepAudio);
  on("entities", (e) => { dash.entities = e.entities; renderEntities(); drawRadar(); });
  on("stats", renderStats);
  on("state", renderState);
  on("end", () => { dash.ended = true; conn.textContent = "run ended"; conn.className = "badge"; es.close(); });
})();
