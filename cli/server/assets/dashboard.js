// The osprey dashboard: polls /api/sources, /api/streams and /api/queries,
// listens to /api/events/live, and draws everything itself. A recording
// camera's live video and its events' clips play from /api/videos/: HLS
// natively where the browser has it, else through the vendored hls.js
// (loaded only then).
'use strict';

const POLL_MS = 2000;          // sources, streams, queries
const FRAME_MS = 1500;         // each camera's latest.jpg
const MINUTES = 30;            // minutes the charts show
const MAX_EVENTS = 100;        // events the timeline keeps
const SVG = 'http://www.w3.org/2000/svg';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
};
const minuteOf = (ms) => Math.floor(ms / 60000);
const fmt = (n, digits = 1) => (n == null ? '–' : Number(n).toFixed(digits));
const bytes = (n) => (n >= 1 << 20 ? fmt(n / (1 << 20)) + ' MiB' : n >= 1024 ? fmt(n / 1024) + ' KiB' : fmt(n, 0) + ' B');
const CLIP_BEFORE_S = 5;        // an event's clip without clip_start: from this long before
const CLIP_AFTER_S = 5;         // ... to this long after
const videoUrl = (stream, file) => `/api/videos/${encodeURIComponent(stream)}/${file}`;
const frameUrl = (name, width) =>
  `/api/sources/${encodeURIComponent(name)}/latest.jpg?width=${width}&t=${Date.now()}`;

// Per-minute series: minute -> {sum, n}; `avg` for rates, `sum` for counts.
class Minutes {
  constructor() { this.m = new Map(); }
  add(ms, value) {
    const k = minuteOf(ms);
    const cell = this.m.get(k) || { sum: 0, n: 0 };
    cell.sum += value; cell.n += 1;
    this.m.set(k, cell);
    for (const old of this.m.keys()) if (old <= k - MINUTES) this.m.delete(old);
  }
  values(kind) {
    const now = minuteOf(Date.now()), out = [];
    for (let k = now - MINUTES + 1; k <= now; k++) {
      const c = this.m.get(k);
      out.push(c ? (kind === 'avg' ? c.sum / c.n : c.sum) : null);
    }
    return out;
  }
}

const state = {
  cameras: new Map(),   // name -> {card, fps: Minutes, events: Minutes}
  queries: new Map(),   // name -> {rows: last count, perMinute: Minutes}
  seen: new Set(),      // "stream/shard/seq" of events already shown
  thumbs: new Map(),    // source -> {at, url} of the last thumbnail fetched
};

function problem(text) {
  const p = $('#problem');
  p.hidden = !text;
  p.textContent = text || '';
}

async function getJson(path) {
  const r = await fetch(path, { cache: 'no-store' });
  if (r.status === 401) throw new Error('this server wants a token: open /?token=TOKEN once');
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.json();
}

// ---- cameras ----------------------------------------------------------

function cameraOf(name) {
  let cam = state.cameras.get(name);
  if (cam) return cam;
  const img = el('img', { alt: `latest frame of ${name}` });
  const card = el('div', { class: 'camera', 'data-name': name }, el('div', { class: 'frame' }, img),
    el('div', { class: 'meta' },
      el('span', { class: 'name' }, name), el('span', { class: 'badge state' }),
      el('span', { class: 'fps dim' }), el('span', { class: 'dropped dim' }),
      el('span', { class: 'error' })));
  img.addEventListener('click', () => view(img.src, name));
  $('#cameras').append(card);
  cam = { card, img, fps: new Minutes(), events: new Minutes(), loading: false, record: null };
  state.cameras.set(name, cam);
  refreshFrame(name, cam);
  return cam;
}

// Reloads a camera's frame, one request at a time, every FRAME_MS.
function refreshFrame(name, cam) {
  if (!state.cameras.has(name)) return;
  const next = (missing) => {
    cam.img.classList.toggle('missing', missing);
    setTimeout(() => refreshFrame(name, cam), FRAME_MS);
  };
  cam.img.onload = () => next(false);
  cam.img.onerror = () => next(true);
  cam.img.src = frameUrl(name, 480);
}

function showSources(sources) {
  const names = new Set(sources.map((s) => s.name));
  for (const [name, cam] of state.cameras) {
    if (!names.has(name)) { stopVideo(cam.card.querySelector('video.live')); cam.card.remove(); state.cameras.delete(name); }
  }
  const now = Date.now();
  for (const s of sources) {
    const cam = cameraOf(s.name);
    const badge = cam.card.querySelector('.state');
    badge.textContent = s.state;
    badge.className = `badge state ${s.state}`;
    cam.card.querySelector('.fps').textContent =
      `${fmt(s.fps_analyzed)} fps analysed / ${fmt(s.fps_in)} in` + (s.width ? ` · ${s.width}×${s.height}` : '');
    cam.card.querySelector('.dropped').textContent = s.frames_dropped ? `${s.frames_dropped} dropped` : '';
    cam.card.querySelector('.error').textContent = s.error || '';
    cam.fps.add(now, s.fps_analyzed || 0);
    if (s.record && s.record !== cam.record) livePlayer(cam, s.record);
  }
}

// ---- video --------------------------------------------------------------

let hlsScript = null;
function loadHls() {
  hlsScript = hlsScript || new Promise((resolve, reject) => {
    const script = el('script', { src: '/assets/vendor/hls.min.js' });
    script.onload = () => resolve(window.Hls);
    script.onerror = () => { hlsScript = null; reject(new Error('hls.js did not load')); };
    document.head.append(script);
  });
  return hlsScript;
}

// Plays the HLS playlist `url` in `video`: through hls.js where the
// browser has Media Source Extensions for H.264 (hls.js' own advice: it
// holds live playback about two fragments behind the newest, where a
// native player picks its own latency; Chromium now answers 'maybe' for
// native HLS too), else natively (iOS Safari). A fatal error retries after
// a few seconds (a playlist is 404 until the first fragment is recorded).
async function playHls(video, url, live) {
  stopVideo(video);
  if (!video.isConnected) return;
  const mse = window.MediaSource && MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"');
  if (!mse && video.canPlayType('application/vnd.apple.mpegurl')) { video.src = url; return; }
  const Hls = await loadHls();
  if (!Hls.isSupported()) { video.title = 'this browser plays no HLS'; return; }
  const hls = new Hls(live ? { liveSyncDurationCount: 2, liveMaxLatencyDurationCount: 5 } : {});
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (!data.fatal) return;
    hls.destroy();
    if (video.hls === hls) { video.hls = null; setTimeout(() => playHls(video, url, live), 3000); }
  });
  video.hls = hls;
  hls.loadSource(url);
  hls.attachMedia(video);
}

// Stops a player (its hls.js, its fetches and timers), if any.
function stopVideo(video) {
  if (video && video.hls) { video.hls.destroy(); video.hls = null; }
}

// A recording camera's card gets its live video beside the latest frame.
function livePlayer(cam, stream) {
  cam.record = stream;
  let video = cam.card.querySelector('video.live');
  if (!video) {
    video = el('video', { class: 'live', muted: '', autoplay: '', playsinline: '', title: `live: ${stream}` });
    video.muted = true;
    cam.card.querySelector('.frame').append(video);
    cam.card.classList.add('recording');
    cam.card.querySelector('.name').after(el('span', { class: 'badge rec' }, `● ${stream}`));
  }
  video.dataset.stream = stream;
  playHls(video, videoUrl(stream, 'live.m3u8'), true).catch((e) => { video.title = e.message; });
}

// The clip of an event: its own clip_start/clip_end when it has them,
// else a few seconds around its time.
function clipUrl(stream, record, timeMs) {
  const at = (t) => Date.parse(t) / 1000;
  const start = record.clip_start ? at(record.clip_start) : timeMs / 1000 - CLIP_BEFORE_S;
  const end = record.clip_end ? at(record.clip_end) : timeMs / 1000 + CLIP_AFTER_S;
  return videoUrl(stream, `clip.mp4?start=${start.toFixed(3)}&end=${end.toFixed(3)}`);
}

// ---- events -----------------------------------------------------------

// A thumbnail of `source` now: its latest frame, fetched at most once a
// second a source and shared by the events of that second.
async function thumbnail(source) {
  const last = state.thumbs.get(source);
  if (last && Date.now() - last.at < 1000) return last.url;
  const entry = { at: Date.now(), url: null };
  state.thumbs.set(source, entry);
  entry.url = fetch(frameUrl(source, 640), { cache: 'no-store' })
    .then((r) => (r.ok ? r.blob() : null))
    .then((b) => (b ? URL.createObjectURL(b) : null))
    .catch(() => null);
  return entry.url;
}

function addEvent(record, timeMs, key, live) {
  if (key) { if (state.seen.has(key)) return; state.seen.add(key); }
  const source = record.source || '?';
  const type = record.type || record.kind || 'event';
  const item = el('li', { class: 'event' + (live ? ' new' : ''), 'data-type': type, 'data-source': source });
  const thumb = el('div', { class: 'nothumb' });
  const detail = Object.entries(record)
    .filter(([k]) => !['kind', 'source', 'type'].includes(k))
    .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' · ');
  const stream = state.cameras.get(source)?.record;
  const clip = stream ? el('button', { class: 'clip', title: `play the clip of ${stream}` }, 'clip') : '';
  if (clip) {
    const url = clipUrl(stream, record, timeMs);
    clip.dataset.url = url;
    clip.addEventListener('click', () => viewClip(url, `${type} · ${source} · ${new Date(timeMs).toLocaleString()}`));
  }
  item.append(thumb, el('div', {},
    el('div', {}, el('span', { class: 'type' }, type), ' ', el('span', {}, source), ' ', clip),
    el('div', { class: 'dim' }, new Date(timeMs).toLocaleTimeString(), ' ', detail)));
  if (live) {
    thumbnail(source).then((url) => {
      if (!url) return;
      const img = el('img', { src: url, alt: `${source} at ${type}` });
      img.addEventListener('click', () => view(url, `${type} · ${source} · ${new Date(timeMs).toLocaleString()}`));
      thumb.replaceWith(img);
    });
  }
  const list = $('#events');
  // Keep the list newest first, whatever order records come in.
  item.dataset.time = timeMs;
  let before = null;
  for (const other of list.children) if (Number(other.dataset.time) <= timeMs) { before = other; break; }
  list.insertBefore(item, before);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
  const cam = state.cameras.get(source);
  if (cam && record.kind !== 'status') cam.events.add(timeMs, 1);
  pruneThumbs();
}

// Frees thumbnails no event shows any more.
function pruneThumbs() {
  const shown = new Set([...document.querySelectorAll('#events img')].map((i) => i.src));
  for (const [source, t] of state.thumbs) {
    Promise.resolve(t.url).then((url) => {
      if (url && !shown.has(url) && Date.now() - t.at > 5000) {
        URL.revokeObjectURL(url);
        if (state.thumbs.get(source) === t) state.thumbs.delete(source);
      }
    });
  }
}

async function loadRecentEvents() {
  const events = await getJson('/api/events?limit=50');
  for (const e of events.reverse()) {
    addEvent(e.event, Date.parse(e.time), `${e.stream}/${e.shard}/${e.seq}`, false);
  }
}

function listen() {
  const feed = $('#feed');
  const source = new EventSource('/api/events/live');
  source.onopen = () => { feed.textContent = 'feed: live'; feed.className = 'badge up'; };
  source.onerror = () => { feed.textContent = 'feed: reconnecting'; feed.className = 'badge down'; };
  source.onmessage = (m) => {
    try { addEvent(JSON.parse(m.data), Date.now(), null, true); } catch (e) { /* not JSON: skip */ }
  };
  source.addEventListener('lagged', (m) => {
    feed.textContent = `feed: live (missed ${JSON.parse(m.data).missed})`;
  });
}

// ---- streams and queries ----------------------------------------------

function fillTable(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(...rows.map((cells) => el('tr', {}, ...cells.map((c) => el('td', {}, String(c))))));
}

function showStreams(streams) {
  fillTable('#streams', streams.map((s) =>
    [s.name, s.shards, fmt(s.records_per_second), bytes(s.bytes_per_second) + '/s']));
}

function showQueries(queries) {
  const now = Date.now();
  for (const q of queries) {
    let known = state.queries.get(q.name);
    if (!known) { known = { rows: q.rows, perMinute: new Minutes() }; state.queries.set(q.name, known); }
    known.perMinute.add(now, Math.max(0, q.rows - known.rows));
    known.rows = q.rows;
  }
  const names = new Set(queries.map((q) => q.name));
  for (const name of state.queries.keys()) if (!names.has(name)) state.queries.delete(name);
  fillTable('#queries', queries.map((q) =>
    [q.name, q.input, q.state + (q.error ? `: ${q.error}` : ''), q.rows, q.late, q.refused, q.watermark || '–']));
}

// ---- charts -------------------------------------------------------------

// An SVG chart of the last MINUTES minutes: `bars` (counts) and an
// optional `line` (a rate), each on its own scale.
function chart(title, bars, barLabel, line, lineLabel) {
  const w = 300, h = 110, top = 12, bottom = 14, slot = w / MINUTES;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    svg.append(e);
  };
  const plot = h - top - bottom;
  const barMax = Math.max(1, ...bars.map((v) => v || 0));
  bars.forEach((v, i) => {
    if (!v) return;
    const bh = (v / barMax) * plot;
    add('rect', { class: 'bar', x: i * slot + 1, y: top + plot - bh, width: slot - 2, height: bh });
  });
  if (line) {
    const lineMax = Math.max(1, ...line.map((v) => v || 0));
    const pts = line.map((v, i) => (v == null ? null : `${i * slot + slot / 2},${top + plot - (v / lineMax) * plot}`))
      .filter(Boolean);
    if (pts.length) add('polyline', { class: 'line', points: pts.join(' ') });
    add('text', { x: w - 2, y: 10, 'text-anchor': 'end' }, `${lineLabel} max ${fmt(lineMax)}`);
  }
  add('line', { class: 'axis', x1: 0, y1: top + plot, x2: w, y2: top + plot });
  add('text', { x: 2, y: 10 }, `${barLabel} max ${fmt(barMax, 0)}`);
  add('text', { x: 2, y: h - 2 }, `-${MINUTES} min`);
  add('text', { x: w - 2, y: h - 2, 'text-anchor': 'end' }, 'now');
  return el('div', { class: 'chart' }, el('div', { class: 'title' }, title), svg);
}

function drawCharts() {
  const charts = [];
  for (const [name, cam] of state.cameras) {
    charts.push(chart(`${name}: events (bars), fps analysed (line)`,
      cam.events.values('sum'), 'events/min', cam.fps.values('avg'), 'fps'));
  }
  for (const [name, q] of state.queries) {
    charts.push(chart(`query ${name}: rows a minute`, q.perMinute.values('sum'), 'rows/min'));
  }
  $('#charts').replaceChildren(...charts);
}

// ---- the viewer and the loop --------------------------------------------

function view(src, caption) {
  const v = $('#viewer');
  v.querySelector('video').hidden = true;
  v.querySelector('img').hidden = false;
  v.querySelector('img').src = src;
  v.querySelector('figcaption').textContent = caption;
  v.hidden = false;
}

// Plays an event's clip (MP4) in the viewer; a refusal shows its reason.
async function viewClip(url, caption) {
  const v = $('#viewer');
  const video = v.querySelector('video');
  v.querySelector('img').hidden = true;
  video.hidden = false;
  v.querySelector('figcaption').textContent = caption;
  v.hidden = false;
  const r = await fetch(url, { cache: 'no-store' });
  if (!r.ok) {
    const why = await r.json().then((j) => j.error, () => r.status);
    v.querySelector('figcaption').textContent = `${caption}: ${why}`;
    return;
  }
  if (video.src.startsWith('blob:')) URL.revokeObjectURL(video.src);
  video.src = URL.createObjectURL(await r.blob());
  video.play().catch(() => {});
}

async function poll() {
  try {
    const [sources, streams, queries] = await Promise.all(
      [getJson('/api/sources'), getJson('/api/streams'), getJson('/api/queries')]);
    showSources(sources);
    showStreams(streams);
    showQueries(queries);
    drawCharts();
    problem(null);
  } catch (e) {
    problem(e.message);
  }
  setTimeout(poll, POLL_MS);
}

function tick() {
  $('#clock').textContent = new Date().toLocaleString();
}

document.addEventListener('DOMContentLoaded', async () => {
  $('#viewer').addEventListener('click', (e) => {
    if (e.target.tagName === 'VIDEO') return;
    const video = $('#viewer video');
    video.pause();
    $('#viewer').hidden = true;
  });
  tick();
  setInterval(tick, 1000);
  await poll();
  listen();
  loadRecentEvents().catch((e) => problem(e.message));
});
