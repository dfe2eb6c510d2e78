// The Switchyard operators' console. Plain DOM, no framework: the page is
// a handful of tables and two small charts fed by one WebSocket
// subscription (ops_subscribe). Every value from the daemon is put into the
// page as text, never as markup.

const SVG_NS = 'http' + '://www.w3.org/2000/svg';
const KEY_SLOT = 'switchyard.key';
const PAGE = 50;
const STATES = ['queued', 'routed', 'held', 'batched', 'submitted', 'confirmed'];
const STATE_COLOURS = {
  queued: '#5b6b7f', routed: '#7a4fc9', held: '#c2410c',
  batched: '#0e7490', submitted: '#1d4ed8', confirmed: '#15803d',
};

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text). */
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

/** An SVG element. */
function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) if (kid) el.append(kid);
  return el;
}

/** Puts `nodes` into a container. A table replacing a table of the same
 *  columns is patched in place: a cell whose markup did not change is
 *  kept, with its buttons, so a live update neither moves keyboard focus
 *  nor swallows a click. Elsewhere, focus returns to the control with the
 *  same data-focus key. */
function put(container, ...nodes) {
  nodes = nodes.flat().filter((n) => n !== undefined && n !== null && n !== '');
  const old = container.firstElementChild;
  const fresh = nodes[0];
  if (nodes.length === 1 && container.children.length === 1 && old && fresh instanceof Element
      && old.tagName === 'TABLE' && fresh.tagName === 'TABLE'
      && old.tHead && fresh.tHead && old.tHead.outerHTML === fresh.tHead.outerHTML) {
    patchRows(old.tBodies[0], fresh.tBodies[0]);
    return;
  }
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.focus : null;
  container.replaceChildren(...nodes);
  if (key) {
    const again = container.querySelector(`[data-focus="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

function patchRows(body, fresh) {
  const rows = [...fresh.rows];
  rows.forEach((tr, i) => {
    const cur = body.rows[i];
    if (!cur) {
      body.append(tr);
      return;
    }
    if (cur.className !== tr.className) cur.className = tr.className;
    const cells = [...tr.cells];
    cells.forEach((td, j) => {
      const have = cur.cells[j];
      if (!have) cur.append(td);
      else if (have.outerHTML !== td.outerHTML) have.replaceWith(td);
    });
    while (cur.cells.length > cells.length) cur.lastElementChild.remove();
  });
  while (body.rows.length > rows.length) body.lastElementChild.remove();
}

/** A table; each cell carries its column's name for the narrow layout,
 *  and a row array may carry a `cls` for its <tr>. */
function table(caption, head, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty', text: empty });
  const cell = (c, i) => {
    const td = c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c);
    td.setAttribute('role', 'cell');
    if (head[i]) td.dataset.label = head[i];
    return td;
  };
  // Explicit roles: the narrow layout displays cells as blocks, which
  // would otherwise hide the table from assistive technology.
  return h('table', { role: 'table' },
    h('caption', { class: 'sr-only', text: caption }),
    h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' }, head.map((c) => h('th', { scope: 'col', role: 'columnheader', text: c })))),
    h('tbody', { role: 'rowgroup' }, rows.map((r) => h('tr', { class: r.cls, role: 'row' }, r.map(cell)))));
}

function row(cls, cells) {
  cells.cls = cls;
  return cells;
}

/** Unix-ms instants inside a daemon's message, as local times. */
function humanize(text) {
  return (text || '').replace(/\b(?:at |until )?(1\d{12}) ms\b/g, (m, ms) => {
    const d = new Date(Number(ms));
    return `${m.startsWith('until') ? 'until' : 'at'} ${d.toLocaleTimeString()}`;
  });
}

function ago(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = Math.max(0, Date.now() - ms);
  if (d < 1500) return 'just now';
  if (d < 90_000) return `${Math.round(d / 1000)} s ago`;
  if (d < 5_400_000) return `${Math.round(d / 60_000)} min ago`;
  return `${Math.round(d / 3_600_000)} h ago`;
}

function when(ms) {
  return h('time', { datetime: new Date(ms).toISOString(), title: new Date(ms).toLocaleString() }, ago(ms));
}

function age(ms) {
  if (ms === null || ms === undefined) return 'no reading';
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

function short(x, n = 10) {
  if (!x) return '—';
  return x.length > n + 4 ? `${x.slice(0, n)}…${x.slice(-4)}` : x;
}

function pct(p) {
  return `${(p * 100).toFixed(p >= 0.999 ? 2 : 1)} %`;
}

function badge(state, text) {
  return h('span', { class: `badge b-${state}` }, text ?? state.replace('_', ' '));
}

function breakerCell(b) {
  if (b.state === 'open') return h('span', {}, badge('open', 'open'), ' ', h('span', { class: 'why', text: b.reason || '' }));
  if (b.state === 'half_open') return badge('half_open', 'half open');
  return badge('closed', 'closed');
}

function usd(x) {
  const n = Number(x);
  if (x === 'unpriced') return 'no USD price';
  return Number.isFinite(n) && n < 1e15 ? `$${n.toLocaleString('en-US', { maximumFractionDigits: 2 })}` : String(x);
}

// ---------------------------------------------------------------- JSON-RPC

class RpcError extends Error {
  constructor(e) {
    super(e.message);
    this.code = e.code;
    this.data = e.data;
  }
}

class Rpc {
  constructor(url, key) {
    this.url = url;
    this.key = key;
    this.next = 1;
    this.waiting = new Map();
    this.subs = new Map();
    this.onclose = () => {};
  }

  open() {
    return new Promise((resolve, reject) => {
      const protocols = this.key ? ['switchyard', `bearer.${this.key}`] : ['switchyard'];
      let opened = false;
      try {
        this.ws = new WebSocket(this.url, protocols);
      } catch (e) {
        reject(e);
        return;
      }
      this.ws.onopen = () => { opened = true; resolve(); };
      this.ws.onerror = () => { if (!opened) reject(new Error(`cannot reach the API at ${this.url}`)); };
      this.ws.onclose = () => {
        for (const w of this.waiting.values()) w.reject(new Error('connection closed'));
        this.waiting.clear();
        if (opened) this.onclose();
        else reject(new Error(`cannot reach the API at ${this.url}`));
      };
      this.ws.onmessage = (ev) => this.receive(ev.data);
    });
  }

  receive(text) {
    let msg;
    try { msg = JSON.parse(text); } catch { return; }
    if (msg.id !== undefined && this.waiting.has(msg.id)) {
      const w = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.error) w.reject(new RpcError(msg.error));
      else w.resolve(msg.result);
    } else if (msg.method && msg.params && this.subs.has(msg.params.subscription)) {
      if (msg.params.error !== undefined) {
        // The daemon ended the subscription (the key was revoked, or lost
        // its role): start over, which checks the key again.
        this.subs.delete(msg.params.subscription);
        this.ws.close();
        return;
      }
      this.subs.get(msg.params.subscription)(msg.params.result);
    }
  }

  call(method, params, timeoutMs = 15000) {
    const id = this.next++;
    const body = { jsonrpc: '2.0', id, method };
    if (params !== undefined) body.params = params;
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected to the API: try again once the console says Live'));
        return;
      }
      const timer = setTimeout(() => {
        if (this.waiting.delete(id)) reject(new Error(`no answer from the API within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.ws.send(JSON.stringify(body));
    });
  }

  async subscribe(method, onItem) {
    // Notifications may arrive before the answer is read: queue them.
    const early = [];
    let handler = (x) => early.push(x);
    const sub = await this.call(method);
    this.subs.set(sub, (x) => handler(x));
    handler = onItem;
    early.forEach(onItem);
    return sub;
  }

  close() {
    this.onclose = () => {};
    if (this.ws) this.ws.close();
  }
}

// ---------------------------------------------------------------- state

const state = {
  rpc: null,
  me: null,
  view: {},
  tab: 'network',
  auditAfter: null,
  auditPinned: true,
  retry: 0,
};

function setConn(text, kind) {
  const c = $('conn');
  c.textContent = text;
  c.className = `conn ${kind}`;
}

async function config() {
  const r = await fetch('/config.json', { cache: 'no-store' });
  if (!r.ok) throw new Error(`the console's config: HTTP ${r.status}`);
  return r.json();
}

async function connect(key) {
  const cfg = await config();
  const rpc = new Rpc(cfg.api, key);
  await rpc.open();
  let me;
  try {
    me = await rpc.call('auth_whoami');
  } catch (e) {
    rpc.close();
    if (e.code === 4011) throw new Error('Unknown or revoked API key.');
    throw e;
  }
  if (!me.operates) {
    rpc.close();
    throw new Error(`“${me.name}” is a ${me.role} key: the console needs an operator or admin key.`);
  }
  return { rpc, me };
}

/** Connects, checks the key and subscribes; on any failure the socket is
 *  closed and the error thrown. */
async function signIn(key) {
  const { rpc, me } = await connect(key);
  let first;
  try {
    const got = new Promise((resolve) => { first = resolve; });
    await rpc.subscribe('ops_subscribe', (u) => { onUpdate(u); first(); });
    await Promise.race([got, new Promise((_, no) => setTimeout(() => no(new Error('no view from the API within 15 s')), 15000))]);
  } catch (e) {
    rpc.close();
    throw e;
  }
  if (state.rpc) state.rpc.close();
  sessionStorage.setItem(KEY_SLOT, key);
  state.rpc = rpc;
  state.me = me;
  state.retry = 0;
  $('who').textContent = `${me.name} · ${me.role}`;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  setConn('Live', 'live');
  rpc.onclose = () => reconnect();
  loadAudit();
}

/** A refusal of the key itself, as opposed to a network or daemon fault. */
function refused(e) {
  return /Unknown or revoked|needs an operator or admin key/.test(e.message);
}

function signOut(message) {
  sessionStorage.removeItem(KEY_SLOT);
  if (state.rpc) state.rpc.close();
  state.rpc = null;
  state.me = null;
  state.view = {};
  $('app').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('who').textContent = '';
  $('key').value = '';
  $('signin-error').textContent = message || '';
  setConn('Signed out', 'off');
  $('key').focus();
}

/** Tries again with the kept key, backing off up to 10 s; only a refusal
 *  of the key signs out. */
function reconnect() {
  const key = sessionStorage.getItem(KEY_SLOT);
  if (!key) return;
  if (state.rpc) state.rpc.onclose = () => {};
  state.rpc = null;
  state.retry += 1;
  const wait = Math.min(10000, 500 * 2 ** Math.min(5, state.retry - 1));
  setConn(`Connection lost: retrying in ${Math.round(wait / 100) / 10} s`, 'lost');
  setTimeout(async () => {
    try {
      await signIn(key);
    } catch (e) {
      if (refused(e)) signOut(e.message);
      else reconnect();
    }
  }, wait);
}

function onUpdate(u) {
  state.heard = Date.now();
  Object.assign(state.view, u.sections);
  state.view.at_ms = u.at_ms;
  const changed = new Set(Object.keys(u.sections));
  if (u.history_append && u.history_append.length) {
    state.view.history = [...(state.view.history || []), ...u.history_append].slice(-900);
    changed.add('history');
  }
  if (changed.has('assets')) renderAssets();
  if (['chains', 'bridges', 'pauses', 'changes'].some((k) => changed.has(k))) renderNetwork();
  if (changed.has('queues') || changed.has('history')) renderQueues();
  if (changed.has('approvals')) renderApprovals();
  if (changed.has('limits')) renderLimits();
  if (changed.has('audit_head') && state.auditPinned) loadAudit();
  document.body.dataset.updated = String(u.at_ms);
}

// ---------------------------------------------------------------- actions

/** Asks for a reason in the dialog; resolves to it, or null. */
function ask(title, detail, okText) {
  const dlg = $('ask');
  const opener = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  $('ask-title').textContent = title;
  $('ask-detail').textContent = detail;
  $('ask-ok').textContent = okText;
  $('ask-reason').value = '';
  $('ask-error').textContent = '';
  return new Promise((resolve) => {
    const done = (v) => {
      $('ask-ok').onclick = null;
      $('ask-cancel').onclick = null;
      dlg.oncancel = null;
      dlg.close();
      // Back to the control that opened it, even if a live update
      // replaced it meanwhile.
      const back = opener && document.querySelector(`[data-focus="${CSS.escape(opener)}"]`);
      if (back) back.focus();
      resolve(v);
    };
    $('ask-ok').onclick = () => {
      const r = $('ask-reason').value.trim();
      if (!r) {
        $('ask-error').textContent = 'A reason is required: it goes into the audit log.';
        $('ask-reason').focus();
        return;
      }
      done(r);
    };
    $('ask-cancel').onclick = () => done(null);
    dlg.oncancel = (e) => { e.preventDefault(); done(null); };
    dlg.showModal();
    $('ask-reason').focus();
  });
}

/** A message in the page's live region: successes fade after 6 s,
 *  errors stay until dismissed. */
function notice(text, kind = 'ok') {
  const region = $(kind === 'error' ? 'alerts' : 'notices');
  const n = h('p', { class: `toast ${kind}` }, h('span', { text }));
  if (kind === 'error') {
    n.append(' ', h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss', onclick: () => n.remove() }, '×'));
  } else {
    setTimeout(() => n.remove(), 6000);
  }
  region.append(n);
}

async function act(method, params, done) {
  try {
    const r = await state.rpc.call(method, params);
    if (done) notice(done(r));
    return r;
  } catch (e) {
    notice(`${method}: ${e.message}${e.data && e.data.field ? ` (${e.data.field})` : ''}`, 'error');
    return null;
  }
}

async function pauseOrResume(kind, target, paused) {
  const verb = paused ? 'Resume' : 'Pause';
  const reason = await ask(`${verb} ${kind} ${target}`,
    paused ? 'Routing and payouts use it again.' : 'Quotes route around it and payouts for it wait until it is resumed.',
    verb);
  if (!reason) return;
  await act(paused ? 'ops_resume' : 'ops_pause', { kind, target, reason },
    () => `${kind} ${target} ${paused ? 'resumed' : 'paused'}`);
}

function pauseButton(kind, target, paused) {
  const verb = paused ? 'Resume' : 'Pause';
  return h('button', {
    type: 'button', class: paused ? '' : 'danger',
    'data-focus': `${kind}:${target}`,
    'aria-label': `${verb} ${kind} ${target}`,
    onclick: () => pauseOrResume(kind, target, paused),
  }, `${verb}…`);
}

function pauseCell(p, change) {
  if (p) return h('span', {}, badge('paused', 'paused'), ' ', h('span', { class: 'why' }, `by ${p.actor}, `, when(p.at_ms), `: ${p.reason}`));
  if (change) return h('span', { class: 'why' }, `${change.action === 'resume' ? 'resumed' : 'paused'} by ${change.actor}, `, when(change.at_ms), `: ${change.reason}`);
  return h('span', { class: 'why', text: 'never paused' });
}

// ---------------------------------------------------------------- views

function renderAssets() {
  const assets = state.view.assets || [];
  for (const [id, pick] of [['route-from', 0], ['route-to', 1], ['q-from', 0], ['q-to', 1]]) {
    const sel = $(id);
    const cur = sel.value;
    sel.replaceChildren(...assets.map((a) => h('option', { value: a, text: a })));
    if (assets.includes(cur)) sel.value = cur;
    else if (assets.length > pick) sel.value = assets[pick];
  }
}

/** A reading's age on the daemon's clock, coarse enough that a table
 *  does not change at every update. */
function readingAge(c) {
  if (c.observed_at_ms === null || c.observed_at_ms === undefined) return 'no reading';
  const ms = Math.max(0, (state.view.at_ms || Date.now()) - c.observed_at_ms);
  const text = ms < 2000 ? 'under 2 s' : ms < 60000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60000)} min`;
  return c.stale ? `${text} (stale)` : text;
}

function renderNetwork() {
  const v = state.view;
  const chains = (v.chains || []).map((c) => row(c.breaker.state === 'open' ? 'alarm' : c.paused ? 'paused' : '', [
    h('td', {}, h('strong', { text: c.chain })),
    c.vm,
    c.head ?? '—',
    c.finalized ?? '—',
    c.lag ?? '—',
    h('td', { class: c.stale ? 'stale' : '' }, readingAge(c)),
    h('td', {}, c.endpoints.length
      ? h('ul', { class: 'plain' }, c.endpoints.map((e) => h('li', {}, badge(e.state), ' ', h('span', { class: 'mono', text: e.url }),
        e.failures ? h('span', { class: 'why', text: ` ${e.failures} failures${e.last_error ? `: ${e.last_error}` : ''}` }) : '')))
      : h('span', { class: 'why', text: 'not probed' })),
    h('td', {}, breakerCell(c.breaker)),
    h('td', {}, pauseCell(c.paused, c.last_change)),
    h('td', {}, pauseButton('chain', c.chain, !!c.paused)),
  ]));
  put($('chains'), table('Chains', ['Chain', 'VM', 'Head', 'Finalized', 'Lag', 'Reading age', 'Endpoints', 'Breaker', 'Pause', ''], chains, 'No chains.'));

  const bridges = (v.bridges || []).map((b) => row(b.breaker.state === 'open' ? 'alarm' : b.paused ? 'paused' : '', [
    h('td', {}, h('strong', { text: b.bridge })),
    h('td', { class: 'mono nowrap' }, `${b.from} → ${b.to}`),
    h('td', {}, breakerCell(b.breaker)),
    usd(b.liquidity_usd),
    h('td', {}, pct(b.success_p), ' ', h('span', { class: 'why', text: b.attempts ? `${b.success_basis}, ${b.successes}/${b.attempts} released` : 'prior, no hops yet' })),
    h('td', {}, `${b.eta_s} s `, h('span', { class: 'why', text: b.latency_p50_s !== null ? `${b.eta_basis}; p50 ${b.latency_p50_s} s, p95 ${b.latency_p95_s} s` : b.eta_basis })),
    b.in_flight,
    h('td', {}, pauseCell(b.paused, b.last_change)),
    h('td', {}, pauseButton('bridge', b.bridge, !!b.paused)),
  ]));
  put($('bridges'), table('Bridges', ['Bridge', 'Route', 'Breaker', 'Liquidity', 'Success', 'Latency', 'In flight', 'Pause', ''], bridges, 'No bridges.'));

  const routeChanges = (v.changes || []).filter((c) => c.kind === 'route');
  const paused = (v.pauses || []).filter((p) => p.kind === 'route');
  const rows = paused.map((p) => [h('td', { class: 'mono', text: p.target }), h('td', {}, pauseCell(p, null)), h('td', {}, pauseButton('route', p.target, true))]);
  for (const c of routeChanges) {
    if (!paused.some((p) => p.target === c.target)) rows.push([h('td', { class: 'mono', text: c.target }), h('td', {}, pauseCell(null, c)), h('td', {}, pauseButton('route', c.target, false))]);
  }
  put($('routes'), table('Route pauses', ['Route', 'Pause', ''], rows, 'No route has been paused.'));
}

/** Open payouts of one chain per state over time, as steps (a count
 *  holds until the next sample), ending at the view's current counts. */
function sparkChart(chain, samples) {
  const W = 300, H = 96, P = 4, TOP = 16;
  const series = STATES.map((st) => samples.map((x) => (x.counts[chain] || {})[st] || 0));
  const max = Math.max(1, ...series.flat());
  const t0 = samples[0].at_ms, t1 = samples[samples.length - 1].at_ms;
  const x = (t) => P + ((t - t0) / Math.max(1, t1 - t0)) * (W - 2 * P);
  const y = (n) => H - P - (n / max) * (H - TOP - P);
  const lines = STATES.map((st, i) => {
    if (!series[i].some((n) => n > 0)) return null;
    let d = '';
    samples.forEach((smp, j) => {
      const px = x(smp.at_ms).toFixed(1), py = y(series[i][j]).toFixed(1);
      d += j === 0 ? `M${px},${py}` : `H${px}V${py}`;
    });
    return s('path', { d, fill: 'none', stroke: STATE_COLOURS[st], 'stroke-width': 2 });
  });
  const now = STATES.map((st, i) => [st, series[i][series[i].length - 1]]).filter(([, n]) => n > 0);
  const mins = Math.max(1, Math.round((t1 - t0) / 60000));
  const label = `${chain}: ${now.length ? now.map(([st, n]) => `${n} ${st}`).join(', ') : 'nothing open'} now; at most ${max} in the last ${mins} min`;
  return h('figure', { class: 'spark' },
    s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label },
      s('rect', { x: 0, y: 0, width: W, height: H, class: 'chart-bg' }),
      s('line', { x1: P, y1: y(max), x2: W - P, y2: y(max), class: 'grid' }),
      s('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, class: 'axis' }),
      s('text', { x: P, y: 11, class: 'tick', text: `${max} at most` }),
      lines),
    h('figcaption', {}, h('strong', { text: chain }), h('span', { class: 'why', text: `last ${mins} min` }), ' ',
      now.length ? now.map(([st, n]) => h('span', { class: 'key' }, h('span', { class: `swatch s-${st}` }), `${n} ${st}`)) : h('span', { class: 'why', text: 'nothing open' })));
}

function renderQueues() {
  const v = state.view;
  const q = v.queues || { payouts: [], held: [], lanes: [], transfers: [] };
  const hist = v.history || [];
  const chains = [...new Set([...(v.chains || []).filter((c) => c.vm === 'evm').map((c) => c.chain), ...q.payouts.map((p) => p.chain)])];
  // The samples, then the counts as they are now.
  const live = { at_ms: v.at_ms || Date.now(), counts: {} };
  for (const p of q.payouts) if (STATES.includes(p.state)) (live.counts[p.chain] ||= {})[p.state] = p.count;
  const samples = hist.length && live.at_ms > hist[hist.length - 1].at_ms ? [...hist, live] : hist;
  put($('queue-charts'), samples.length < 2
    ? h('p', { class: 'empty', text: 'Collecting samples (one every 2 s)…' })
    : chains.map((c) => sparkChart(c, samples)));
  const allStates = [...new Set(q.payouts.map((p) => p.state))];
  const order = [...STATES, 'final', 'failed', 'cancelled'].filter((st) => allStates.includes(st));
  const byChain = [...new Set(q.payouts.map((p) => p.chain))].map((c) => [
    h('td', {}, h('strong', { text: c })),
    ...order.map((st) => (q.payouts.find((p) => p.chain === c && p.state === st) || { count: 0 }).count),
  ]);
  put($('queue-counts'), table('Payouts by chain and state', ['Chain', ...order], byChain, 'No payouts yet.'));
  put($('held'), table('Held payouts', ['Payout', 'Merchant', 'To', 'Recipient', 'Amount', 'Held because', 'Since'],
    q.held.map((p) => [h('td', { class: 'mono', text: p.id }), p.owner, p.to, h('td', { class: 'mono', title: p.recipient, text: short(p.recipient) }), p.amount ?? p.amount_base, h('td', { class: 'why', text: humanize(p.reason) }), h('td', {}, when(p.created_ms))]),
    'Nothing is held.'));
  put($('lanes'), q.lanes.length ? q.lanes.map((l) => h('div', { class: 'lane' },
    h('h3', {}, `${l.chain} `, h('span', { class: 'mono', title: l.sender, text: short(l.sender) }), ` · next nonce ${l.next_nonce ?? '?'} `, l.halted ? badge('open', `halted: ${l.halted}`) : badge('closed', 'running')),
    table(`Pending transactions of ${l.chain}`, ['Nonce', 'Intent', 'State', 'Attempts', 'Latest hash', 'Last error', 'Updated'],
      l.pending.map((t) => [t.nonce, h('td', { class: 'mono', text: t.intent }), h('td', {}, badge(t.state)), t.attempts, h('td', { class: 'mono', title: t.hash || '', text: short(t.hash) }), h('td', { class: 'why', text: t.last_error || '' }), h('td', {}, when(t.updated_ms))]),
      'Nothing pending.'))) : h('p', { class: 'empty', text: 'No lanes (this daemon does not execute).' }));
  const name = (id) => ((v.chains || []).find((c) => c.chain_id === id) || { chain: `chain ${id}` }).chain;
  put($('transfers'), q.transfers.length ? q.transfers.map((t) => h('div', { class: 'transfer' },
    h('h3', {}, h('span', { class: 'mono', text: t.id }), ' ', badge(t.state), ' ', h('span', { class: 'why' }, 'started ', when(t.created_ms))),
    h('ol', { class: 'hops' }, t.hops.map((hp) => h('li', {},
      h('strong', { text: hp.bridge }), ` ${name(hp.from.chain_id)} → ${name(hp.to.chain_id)} `, badge(hp.state),
      hp.note ? h('span', { class: 'why', text: ` ${hp.note}` }) : ''))))) : h('p', { class: 'empty', text: 'No transfer in flight.' }));
}

function renderApprovals() {
  const list = state.view.approvals || [];
  const b = $('approvals-badge');
  b.hidden = list.length === 0;
  b.textContent = String(list.length);
  b.setAttribute('aria-label', `${list.length} waiting`);
  const me = state.me ? state.me.name : '';
  const rows = list.map((a) => {
    const p = a.payout;
    const mine = a.approved_by.includes(me);
    return [
      h('td', { class: 'mono', text: p.id }), p.owner, p.to,
      h('td', { class: 'mono', title: p.recipient, text: short(p.recipient) }),
      p.amount ?? p.amount_base, usd(a.usd), h('td', {}, when(p.created_ms)),
      h('td', {}, h('strong', { text: `${a.approved_by.length} of ${a.needed}` }), a.approved_by.length ? h('span', { class: 'why', text: ` (${a.approved_by.join(', ')})` }) : ''),
      h('td', { class: 'buttons' },
        h('button', {
          type: 'button', disabled: mine, 'data-focus': `approve:${p.id}`, 'aria-label': `Approve payout ${p.id}`,
          onclick: () => act('ops_approve', { id: p.id }, (r) => `Approved ${p.id}: ${r.approvals} of ${r.needed}${r.admitted ? ', admitted' : ''}`),
        }, mine ? 'You approved' : 'Approve'),
        h('button', {
          type: 'button', class: 'danger', 'data-focus': `reject:${p.id}`, 'aria-label': `Reject payout ${p.id}`,
          onclick: async () => {
            const reason = await ask(`Reject payout ${p.id}`, `${p.amount ?? p.amount_base} to ${p.recipient} on ${p.to}: it fails and is not paid.`, 'Reject');
            if (reason) await act('ops_reject', { id: p.id, reason }, () => `Rejected ${p.id}`);
          },
        }, 'Reject…')),
    ];
  });
  put($('approvals'), table('Payouts waiting for approval', ['Payout', 'Merchant', 'To', 'Recipient', 'Amount', 'USD', 'Waiting since', 'Approvals', ''], rows, 'Nothing waits for an operator.'));
}

function bar(used, total, label) {
  const W = 320, H = 18;
  const f = total > 0 ? Math.min(1, used / total) : 0;
  return s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': label, class: 'bar' },
    s('rect', { x: 0, y: 0, width: W, height: H, rx: 3, class: 'bar-left' }),
    s('rect', { x: 0, y: 0, width: (W * f).toFixed(1), height: H, rx: 3, class: f >= 0.9 ? 'bar-used hot' : 'bar-used' }));
}

function renderLimits() {
  const l = state.view.limits || { governor: [], merchants: [] };
  put($('governor'), l.governor.length ? l.governor.map((g) => {
    const used = Number(g.used_usd), budget = Number(g.budget_usd);
    const text = `${usd(g.used_usd)} used of ${usd(g.budget_usd)} per ${Math.round(g.window_ms / 60000)} min, ${usd(g.remaining_usd)} left`;
    return h('div', { class: 'limit' }, h('h3', { text: g.chain }), bar(used, budget, text),
      h('p', {}, text, '. ', g.queued ? h('strong', { text: `${g.queued} payout${g.queued === 1 ? '' : 's'} (${usd(g.queued_usd)}) queued behind it.` }) : 'Nothing queued behind it.'));
  }) : h('p', { class: 'empty', text: 'No chain has a notional budget.' }));
  put($('merchants'), table('Merchants', ['Merchant', 'Window', 'Payouts', 'Used', 'Budget'],
    l.merchants.map((m) => {
      const win = m.window_ms >= 3_600_000 ? `${Math.round(m.window_ms / 3_600_000)} h` : `${Math.round(m.window_ms / 60000)} min`;
      const budget = m.budget_usd
        ? h('td', {}, bar(Number(m.used_usd), Number(m.budget_usd), `${usd(m.used_usd)} used of ${usd(m.budget_usd)}, ${usd(m.remaining_usd)} left`),
          h('div', { class: 'why', text: `${usd(m.remaining_usd)} left of ${usd(m.budget_usd)}` }))
        : h('td', { class: 'why', text: 'no budget set' });
      return [h('td', {}, h('strong', { text: m.merchant })), win, m.items, usd(m.used_usd), budget];
    }),
    'No merchant payouts in the last day.'));
}

// ---------------------------------------------------------------- route explorer

/** A round axis step giving about five ticks over `span`. */
function niceStep(span) {
  const raw = Math.max(1, span / 5);
  const mag = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * mag >= raw) return m * mag;
  return 10 * mag;
}

function quoteChart(routes) {
  const W = 620, H = 300, L = 70, R = 20, T = 20, B = 44;
  const etas = routes.map((r) => r.eta_s), outs = routes.map((r) => Number(r.amount_out));
  const sp = routes.map((r) => r.success_p);
  const x0 = 0, x1 = Math.max(...etas) * 1.15 || 1;
  let y0 = Math.min(...outs), y1 = Math.max(...outs);
  const pad = (y1 - y0) * 0.2 || Math.max(1, y1 * 0.001);
  y0 -= pad; y1 += pad;
  const x = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
  const y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  const pMin = Math.min(...sp), pMax = Math.max(...sp);
  const colour = (p) => {
    const f = pMax > pMin ? (p - pMin) / (pMax - pMin) : 1;
    return `hsl(${Math.round(f * 130)}, 70%, 38%)`;
  };
  const cheapest = outs.indexOf(Math.max(...outs));
  const fastest = etas.indexOf(Math.min(...etas));
  const safest = sp.indexOf(Math.max(...sp));
  const ticks = [];
  const step = niceStep(x1 - x0);
  for (let xv = 0; xv <= x1; xv += step) {
    ticks.push(s('text', { x: x(xv), y: H - B + 16, 'text-anchor': 'middle', class: 'tick', text: `${xv} s` }));
  }
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + ((y1 - y0) * i) / 4;
    ticks.push(s('text', { x: L - 6, y: y(yv) + 4, 'text-anchor': 'end', class: 'tick', text: yv.toFixed(2) }));
    ticks.push(s('line', { x1: L, x2: W - R, y1: y(yv), y2: y(yv), class: 'grid' }));
  }
  const points = routes.map((r, i) => {
    const tags = [i === cheapest && 'cheapest', i === fastest && 'fastest', i === safest && 'safest'].filter(Boolean);
    return s('g', { class: 'pt' },
      s('circle', { cx: x(r.eta_s), cy: y(Number(r.amount_out)), r: 8, fill: colour(r.success_p), stroke: '#111', 'stroke-width': 1 },
        s('title', { text: `Route ${i + 1}: ${r.amount_out} in ${r.eta_s} s, success ${pct(r.success_p)}` })),
      // Labels of points in the right half go on their left.
      s('text', x(r.eta_s) > W * 0.6
        ? { x: x(r.eta_s) - 12, y: y(Number(r.amount_out)) + 4, 'text-anchor': 'end', class: 'pt-label', text: `${i + 1}${tags.length ? ` ${tags.join(', ')}` : ''}` }
        : { x: x(r.eta_s) + 12, y: y(Number(r.amount_out)) + 4, class: 'pt-label', text: `${i + 1}${tags.length ? ` ${tags.join(', ')}` : ''}` }));
  });
  return h('figure', { class: 'quote-fig' },
    s('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', class: 'quote-svg', 'aria-label': `${routes.length} routes: amount received against ETA` },
      s('rect', { x: 0, y: 0, width: W, height: H, class: 'chart-bg' }),
      ticks,
      s('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }),
      s('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }),
      s('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis-label', text: 'ETA (seconds)' }),
      s('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 14 ${(T + H - B) / 2})`, text: 'Amount received' }),
      points),
    h('figcaption', {}, pMax > pMin
      ? ['Each point is a route; colour is its success probability, from ', h('span', { class: 'lo', text: `red (${pct(pMin)})` }), ' to ', h('span', { class: 'hi', text: `green (${pct(pMax)})` }), '.']
      : `Each point is a route; every route here succeeds with ${pct(pMax)}.`));
}

async function runQuote(ev) {
  ev.preventDefault();
  const params = { from: $('q-from').value, to: $('q-to').value, amount: $('q-amount').value.trim(), mode: $('q-mode').value };
  if ($('q-max-fee').value.trim()) params.max_fee = $('q-max-fee').value.trim();
  if ($('q-max-eta').value.trim()) params.max_eta_s = Number($('q-max-eta').value.trim());
  if ($('q-min-success').value.trim()) params.min_success_p = Number($('q-min-success').value.trim());
  $('quote-error').textContent = '';
  let q;
  try {
    q = await state.rpc.call('route_quote', params);
  } catch (e) {
    $('quote-error').textContent = `${e.message}${e.data && e.data.field ? ` (field ${e.data.field})` : ''}`;
    put($('quote-chart'));
    put($('quote-routes'));
    put($('quote-excluded'), e.data && e.data.excluded ? excludedTable(e.data.excluded) : '');
    return;
  }
  const routes = q.routes;
  put($('quote-chart'), routes.length ? quoteChart(routes) : h('p', { class: 'empty', text: q.paused ? `This route is paused: ${q.paused}` : 'No route.' }));
  put($('quote-routes'), routes.map((r, i) => h('div', { class: 'route' },
    h('h3', {}, `Route ${i + 1}: ${r.amount_out} received in ${r.eta_s} s, success ${pct(r.success_p)}`,
      r.governor && r.governor.delayed ? h('span', { class: 'why', text: ` · governor: ${r.governor.reason || 'delayed'}` }) : ''),
    table(`Legs of route ${i + 1}`, ['Bridge', 'From → to', 'In', 'Out', 'ETA', 'Finality wait', 'Success', 'Basis', 'Notes'],
      r.legs.map((l) => [h('td', {}, h('strong', { text: l.bridge })), h('td', { class: 'mono', text: `${l.from} → ${l.to}` }), l.amount_in, l.amount_out, `${l.eta_s} s`, `${l.finality_wait_s} s`, pct(l.success_p),
        l.health ? `${l.health.eta_basis} / ${l.health.success_basis}` : '—', h('td', { class: 'why', text: (l.notes || []).join('; ') })]), ''))));
  put($('quote-excluded'), excludedTable(q.excluded));
}

function excludedTable(ex) {
  return table('Excluded bridges', ['Bridge', 'Reason', 'Detail'],
    ex.map((e) => [h('td', {}, h('strong', { text: e.bridge })), h('td', {}, badge('excluded', e.reason.replaceAll('_', ' '))), h('td', { class: 'why', text: e.detail })]),
    'No bridge near these assets was excluded.');
}

// ---------------------------------------------------------------- audit

async function loadAudit() {
  if (!state.rpc) return;
  const head = state.view.audit_head || 0;
  if (state.auditPinned || state.auditAfter === null) state.auditAfter = Math.max(0, head - PAGE);
  let page;
  try {
    page = await state.rpc.call('ops_audit', { after: state.auditAfter, limit: PAGE });
  } catch (e) {
    $('audit-verify').textContent = `Cannot read the audit log: ${e.message}`;
    return;
  }
  const v = $('audit-verify');
  if (page.verified) {
    v.className = 'verify ok';
    v.textContent = `Hash chain verified: all ${head} entries follow from the first.`;
  } else {
    v.className = 'verify broken';
    v.textContent = `Hash chain broken at entry #${page.broken_at}: the log was altered there.`;
  }
  const first = page.entries.length ? page.entries[0].seq : 0;
  const last = page.entries.length ? page.entries[page.entries.length - 1].seq : 0;
  $('audit-range').textContent = page.entries.length ? `entries ${first}–${last} of ${head}` : 'no entries';
  $('audit-prev').disabled = state.auditAfter <= 0;
  $('audit-first').disabled = state.auditAfter <= 0;
  $('audit-next').disabled = last >= head;
  $('audit-last').disabled = last >= head;
  const rows = [...page.entries].reverse().map((e) => [
    e.seq, h('td', {}, when(e.at_ms)), h('td', {}, h('strong', { text: e.actor })), e.action,
    h('td', { class: 'mono', text: e.target }), h('td', { class: 'why', text: e.reason }),
    h('td', { class: 'mono', title: e.hash, text: short(e.hash, 8) }),
  ]);
  put($('audit'), table('Audit log, newest first', ['#', 'When', 'Actor', 'Action', 'Target', 'Reason', 'Hash'], rows, 'The log is empty.'));
}

function pageAudit(to) {
  const head = state.view.audit_head || 0;
  const after = state.auditAfter || 0;
  const next = { first: 0, prev: Math.max(0, after - PAGE), next: Math.min(Math.max(0, head - PAGE), after + PAGE), last: Math.max(0, head - PAGE) }[to];
  state.auditAfter = next;
  state.auditPinned = next >= head - PAGE;
  loadAudit();
}

// ---------------------------------------------------------------- wiring

function showTab(name) {
  state.tab = name;
  for (const b of document.querySelectorAll('[role="tab"]')) {
    const on = b.id === `tab-${name}`;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    $(b.getAttribute('aria-controls')).hidden = !on;
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
}

function wire() {
  $('signin-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = $('key').value.trim();
    $('signin-error').textContent = '';
    if (!key) {
      $('signin-error').textContent = 'Enter an API key.';
      return;
    }
    setConn('Signing in…', 'lost');
    try {
      await signIn(key);
    } catch (e) {
      setConn('Signed out', 'off');
      $('signin-error').textContent = e.message;
    }
  });
  $('signout').addEventListener('click', () => signOut(''));
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => showTab(b.id.slice(4)));
    b.addEventListener('keydown', (ev) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[ev.key];
      if (!d) return;
      const t = tabs[(i + d + tabs.length) % tabs.length];
      t.focus();
      showTab(t.id.slice(4));
    });
  });
  $('route-pause-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    pauseOrResume('route', `${$('route-from').value}->${$('route-to').value}`, false);
  });
  $('quote-form').addEventListener('submit', runQuote);
  for (const to of ['first', 'prev', 'next', 'last']) $(`audit-${to}`).addEventListener('click', () => pageAudit(to));
  // A feed that went quiet (a heartbeat comes at least every 2 s) is said
  // to be stale, not shown as live.
  setInterval(() => {
    if (!state.rpc || !state.heard) return;
    const quiet = Date.now() - state.heard;
    if (quiet > 6000) setConn(`No update for ${Math.round(quiet / 1000)} s: the view may be stale`, 'lost');
    else if ($('conn').classList.contains('lost') && state.retry === 0) setConn('Live', 'live');
  }, 1000);
  // Relative times move on without new data.
  setInterval(() => {
    for (const t of document.querySelectorAll('time[datetime]')) t.textContent = ago(Date.parse(t.getAttribute('datetime')));
  }, 5000);
  const start = (location.hash || '#network').slice(1);
  showTab(['network', 'queues', 'approvals', 'limits', 'routes', 'audit'].includes(start) ? start : 'network');
  const key = sessionStorage.getItem(KEY_SLOT);
  if (key) {
    setConn('Signing in…', 'lost');
    // A daemon restarting is no reason to forget the key.
    signIn(key).catch((e) => (refused(e) ? signOut(e.message) : reconnect()));
  } else {
    $('key').focus();
  }
}

wire();
