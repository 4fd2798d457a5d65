// 邻安监控台 — the operators' console. Plain ES module, no build step, no third-party code.
// Every piece of server text reaches the page through textContent / setAttribute (see el()); never innerHTML.
import { OUTCOMES, getLang, label, setLang, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
const SESSION_KEY = 'linan.session';
const MUTE_KEY = 'linan.muted';
const UNACKED = new Set(['open', 'dispatched', 'escalated']);
const PRIORITY_RANK = { P1: 1, P2: 2, P3: 3, P4: 4 };
const OVERDUE_MS = 60_000;
const SAFETY_REFRESH_MS = 30_000;
const OFFLINE_POLL_MS = 10_000;

const state = {
  session: null, // {accessToken, role, displayName, username}
  alerts: [],
  rows: new Map(), // alertId -> <li>
  known: null, // Set of alert ids seen; null until the first load (so the backlog does not beep)
  fresh: new Map(), // alertId -> until (ms): highlighted as new
  noticed: new Set(), // alertIds with an operator notice not yet acknowledged: the row flashes
  selectedId: null,
  detail: null,
  detailError: null,
  actionResult: null, // {alertId, ok, text}
  actionsFor: null, // alertId whose action card is built
  busy: null, // 'ack' | 'resolve' while a request is in flight
  tab: 'queue',
  smsAvailable: false,
  sms: [],
  skewMs: 0,
  lastQueueLoad: 0,
  queueError: null,
  ws: null,
  connected: false,
  wsAttempt: 0,
  wsRetryAt: 0,
  wsTimer: 0,
  wsStartedAt: 0,
  muted: readLocal(MUTE_KEY) === '1',
  beeps: 0,
  beepUntil: 0,
  lastBeep: new Map(),
};

function readLocal(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- DOM helpers

/** Builds an element; strings become text nodes, so server text can never become markup. */
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

// Icons are drawn here (no icon font, no emoji font needed: monitoring-centre PCs and this test's Chromium may lack one).
const ICONS = {
  bell: ['M6 17v-6a6 6 0 0 1 12 0v6l2 2H4z', 'M10 21h4'],
  'bell-off': ['M6 17v-6a6 6 0 0 1 12 0v6l2 2H4z', 'M10 21h4', 'M3 3l18 18'],
  phone: ['M5 3h4l2 5-2.5 1.5a11 11 0 0 0 6 6L16 13l5 2v4a2 2 0 0 1-2 2A17 17 0 0 1 3 5a2 2 0 0 1 2-2z'],
};

function icon(name) {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon-svg icon-${name}`);
  for (const d of ICONS[name]) {
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

const pad = (n) => String(n).padStart(2, '0');
const toMs = (v) => (v === null || v === undefined || v === '' ? null : typeof v === 'number' ? v : Date.parse(v));
const now = () => Date.now() + state.skewMs;

function hms(v) {
  const ms = toMs(v);
  if (ms === null || Number.isNaN(ms)) return '—';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function dateTime(v) {
  const ms = toMs(v);
  if (ms === null || Number.isNaN(ms)) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms(ms)}`;
}

/** mm:ss since a moment (h:mm:ss after an hour). */
function elapsed(sinceMs) {
  const s = Math.max(0, Math.floor((now() - sinceMs) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

const telHref = (phone) => `tel:${String(phone ?? '').replace(/[^0-9+]/g, '')}`;
const shortId = (id) => String(id ?? '').slice(0, 8);

function actorLabel(actor) {
  if (!actor) return '—';
  const direct = label('actor', actor);
  if (direct !== actor) return direct;
  const i = actor.indexOf(':');
  if (i < 0) return actor;
  const prefix = label('actorPrefix', actor.slice(0, i));
  return `${prefix} ${actor.slice(i + 1)}`;
}

// ---------------------------------------------------------------- HTTP

class ApiError extends Error {
  constructor(status, body) {
    super(typeof body?.message === 'string' ? body.message : Array.isArray(body?.message) ? body.message.join('; ') : `HTTP ${status}`);
    this.status = status;
    this.code = body?.code ?? null;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (state.session) headers.Authorization = `Bearer ${state.session.accessToken}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch {
    throw new ApiError(0, { message: t('err.network') });
  }
  noteServerClock(res);
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.status === 401 && state.session && path !== '/api/v1/auth/login') {
    logout('login.expired');
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Timers count from the server's createdAt: correct for a browser clock that is off by more than a few seconds. */
function noteServerClock(res) {
  const d = Date.parse(res.headers.get('date') ?? '');
  if (Number.isNaN(d)) return;
  const sample = d + 500 - Date.now(); // the header has 1 s resolution
  state.skewMs = Math.abs(sample) > 3000 ? sample : 0;
}

/** A failed action as the operator should read it: what it means, then the server's own words. */
function describeError(e) {
  if (!e.status) return e.message || t('err.network');
  const known = e.code ? t(`err.${e.code}`) : null;
  const meaning = known && known !== `err.${e.code}` ? known : t('action.error');
  return `${meaning}（${e.status} ${e.message}）`;
}

// ---------------------------------------------------------------- session

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return s && typeof s.accessToken === 'string' ? s : null;
  } catch {
    return null;
  }
}

function showLogin(messageKey) {
  $('console-view').hidden = true;
  $('login-view').hidden = false;
  const err = $('login-error');
  err.hidden = !messageKey;
  err.textContent = messageKey ? t(messageKey) : '';
  document.title = t('app.title');
  $('login-username').focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  unlockAudio(); // this click is the user gesture browsers require before sound
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  const err = $('login-error');
  const submit = $('login-submit');
  if (!username || !password) {
    err.textContent = t('login.empty');
    err.hidden = false;
    return;
  }
  submit.disabled = true;
  submit.textContent = t('login.busy');
  try {
    const r = await api('POST', '/api/v1/auth/login', { username, password });
    if (!['admin', 'operator', 'aide'].includes(r.role)) {
      err.textContent = t('login.role', { role: label('role', r.role) });
      err.hidden = false;
      return;
    }
    state.session = { accessToken: r.accessToken, role: r.role, displayName: r.displayName || username, username };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
    $('login-password').value = '';
    err.hidden = true;
    enterConsole();
  } catch (e) {
    err.textContent = e.status === 401 ? t('login.bad') : e.status === 400 ? t('login.empty') : e.status === 0 ? t('login.network') : describeError(e);
    err.hidden = false;
    $('login-password').select();
  } finally {
    submit.disabled = false;
    submit.textContent = t('login.submit');
  }
}

function logout(messageKey) {
  const ws = state.ws;
  state.ws = null;
  ws?.close(1000, 'logout');
  clearTimeout(state.wsTimer);
  sessionStorage.removeItem(SESSION_KEY);
  Object.assign(state, {
    session: null, alerts: [], known: null, selectedId: null, detail: null, detailError: null, actionResult: null, actionsFor: null,
    connected: false, wsAttempt: 0, sms: [], smsAvailable: false, queueError: null, busy: null,
  });
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  state.rows.clear();
  state.fresh.clear();
  state.noticed.clear();
  $('queue').replaceChildren();
  $('detail').replaceChildren();
  $('toasts').replaceChildren();
  showLogin(typeof messageKey === 'string' ? messageKey : null);
}

function enterConsole() {
  $('login-view').hidden = true;
  $('console-view').hidden = false;
  $('user-name').textContent = `${state.session.displayName}`;
  $('user-name').title = `${state.session.username ?? ''} · ${label('role', state.session.role)}`;
  setView(state.selectedId ? 'detail' : 'queue');
  ensureAudio();
  renderSound();
  connectWs();
  renderConnection();
  void refreshQueue();
  void loadSms();
}

// ---------------------------------------------------------------- queue

const sortAlerts = (items) =>
  [...items].sort((a, b) =>
    (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9)
    || (toMs(a.createdAt) ?? 0) - (toMs(b.createdAt) ?? 0)
    || String(a.id).localeCompare(String(b.id)));

let queueSeq = 0;
let queueInFlight = null;
let queueAgain = false;

/** Re-fetches the open queue. Calls that arrive while one is in flight coalesce into one more fetch. */
function refreshQueue() {
  if (queueInFlight) {
    queueAgain = true;
    return queueInFlight;
  }
  queueInFlight = (async () => {
    do {
      queueAgain = false;
      const seq = ++queueSeq;
      try {
        const r = await api('GET', '/api/v1/alerts?status=open');
        if (seq !== queueSeq || !state.session) return;
        applyQueue(r.items ?? []);
        state.queueError = null;
      } catch (e) {
        if (!state.session) return;
        state.queueError = t('queue.loadError', { msg: e.message });
      }
      state.lastQueueLoad = Date.now();
      renderQueue();
    } while (queueAgain && state.session);
  })().finally(() => {
    queueInFlight = null;
  });
  return queueInFlight;
}

function applyQueue(items) {
  const first = state.known === null;
  const known = state.known ?? new Set();
  for (const a of items) {
    if (known.has(a.id)) continue;
    known.add(a.id);
    if (first) continue;
    state.fresh.set(a.id, Date.now() + 15_000);
    if (a.priority === 'P1') beep(a.id); // covers alarms seen only through a re-fetch (e.g. after a reconnect)
  }
  state.known = known;
  state.alerts = sortAlerts(items);
  for (const a of state.alerts) if (!UNACKED.has(a.status)) state.noticed.delete(a.id);
}

function renderQueue() {
  const list = $('queue');
  const ids = new Set(state.alerts.map((a) => a.id));
  for (const [id, li] of state.rows) {
    if (!ids.has(id)) {
      li.remove();
      state.rows.delete(id);
    }
  }
  const ordered = state.alerts.map((a) => {
    let li = state.rows.get(a.id);
    if (!li) {
      li = buildRow(a.id);
      state.rows.set(a.id, li);
    }
    updateRow(li, a);
    return li;
  });
  const same = ordered.length === list.children.length && ordered.every((li, i) => list.children[i] === li);
  if (!same) list.replaceChildren(...ordered);

  $('queue-empty').hidden = state.alerts.length > 0 || !!state.queueError;
  $('queue-error').hidden = !state.queueError;
  $('queue-error').textContent = state.queueError ?? '';
  $('queue-updated').textContent = state.lastQueueLoad ? t('queue.updated', { t: hms(state.lastQueueLoad) }) : '';
  const unacked = state.alerts.filter((a) => UNACKED.has(a.status)).length;
  $('count-unacked-n').textContent = String(unacked);
  $('count-unacked').dataset.count = String(unacked);
  $('count-open-n').textContent = String(state.alerts.length);
  $('tab-queue-n').textContent = String(state.alerts.length);
  document.title = unacked > 0 ? `(${unacked}) ${t('app.title')}` : t('app.title');
  tickTimers();
}

function buildRow(id) {
  const button = el('button', { type: 'button', class: 'row', onclick: () => openAlert(id) },
    el('span', { class: 'badge' }),
    el('span', { class: 'type' }),
    el('span', { class: 'timer' }),
    el('span', { class: 'who' }),
    el('span', { class: 'status status-chip' }));
  return el('li', { dataset: { alertId: id } }, button);
}

function updateRow(li, a) {
  const b = li.firstElementChild;
  b.dataset.priority = a.priority;
  b.dataset.status = a.status;
  b.dataset.acked = String(!UNACKED.has(a.status));
  b.setAttribute('aria-current', String(a.id === state.selectedId));
  b.classList.toggle('flash', state.noticed.has(a.id));
  b.classList.toggle('is-new', (state.fresh.get(a.id) ?? 0) > Date.now());
  b.querySelector('.badge').textContent = a.priority;
  b.querySelector('.badge').dataset.priority = a.priority;
  b.querySelector('.type').textContent = label('type', a.type);
  const extra = [a.community, a.eventCount > 1 ? t('queue.events', { n: a.eventCount }) : null,
    a.escalationRound > 0 ? t('queue.round', { n: a.escalationRound }) : null].filter(Boolean).join(' · ');
  b.querySelector('.who').textContent = `${a.householdName ?? '—'} · ${extra}`;
  const st = b.querySelector('.status');
  st.textContent = label('status', a.status);
  st.dataset.status = a.status;
  const timer = b.querySelector('.timer');
  timer.dataset.since = String(toMs(a.createdAt) ?? Date.now());
  timer.dataset.unacked = String(UNACKED.has(a.status));
}

/** Once a second: every alarm's clock, the reconnect countdown, expiring "new" highlights, the offline poll. */
function tickTimers() {
  for (const timer of document.querySelectorAll('.timer[data-since]')) {
    const since = Number(timer.dataset.since);
    timer.textContent = elapsed(since);
    timer.classList.toggle('overdue', timer.dataset.unacked === 'true' && now() - since > OVERDUE_MS);
  }
  for (const [id, until] of state.fresh) {
    if (until <= Date.now()) {
      state.fresh.delete(id);
      state.rows.get(id)?.firstElementChild.classList.remove('is-new');
    }
  }
}

function everySecond() {
  if (!state.session) return;
  tickTimers();
  renderConnection();
  const since = Date.now() - state.lastQueueLoad;
  if ((!state.connected && since > OFFLINE_POLL_MS) || since > SAFETY_REFRESH_MS) {
    void refreshQueue();
    if (state.selectedId) void loadDetail(state.selectedId);
  }
}

// ---------------------------------------------------------------- detail

let detailSeq = 0;

function setView(view) {
  $('layout').dataset.view = view;
}

function openAlert(id, fromHistory = false) {
  const switching = state.selectedId !== id;
  state.selectedId = id;
  state.noticed.delete(id); // the operator has looked at it
  if (switching) {
    state.detail = null;
    state.detailError = null;
    if (state.actionResult?.alertId !== id) state.actionResult = null;
  }
  for (const [rid, li] of state.rows) li.firstElementChild.setAttribute('aria-current', String(rid === id));
  state.rows.get(id)?.firstElementChild.classList.remove('flash');
  dismissToasts(id);
  setView('detail');
  if (!fromHistory) {
    const entry = { alert: id };
    if (history.state?.alert) history.replaceState(entry, '', `#alert=${id}`);
    else history.pushState(entry, '', `#alert=${id}`);
  }
  renderDetail();
  void loadDetail(id);
  if (matchMedia('(max-width: 899px)').matches) window.scrollTo(0, 0);
}

function closeDetail() {
  if (history.state?.alert) history.back();
  else setView('queue');
}

async function loadDetail(id) {
  const seq = ++detailSeq;
  try {
    const d = await api('GET', `/api/v1/alerts/${encodeURIComponent(id)}`);
    if (seq !== detailSeq || state.selectedId !== id) return;
    state.detail = d;
    state.detailError = null;
  } catch (e) {
    if (seq !== detailSeq || state.selectedId !== id || !state.session) return;
    state.detailError = t('detail.loadError', { msg: e.message });
  }
  renderDetail();
}

function renderDetail() {
  const box = $('detail');
  const id = state.selectedId;
  $('detail-placeholder').hidden = !!id;
  box.hidden = !id;
  if (!id) return;
  const d = state.detail && state.detail.id === id ? state.detail : null;

  const back = el('button', { type: 'button', class: 'back ghost', onclick: closeDetail, text: t('detail.back') });
  if (!d) {
    box.replaceChildren(back, el('p', { class: state.detailError ? 'form-error' : 'empty', role: state.detailError ? 'alert' : null, text: state.detailError ?? t('detail.loading') }));
    state.actionsFor = null;
    return;
  }
  const hh = d.household ?? {};
  const unacked = UNACKED.has(d.status);
  const createdMs = toMs(d.createdAt ?? d.openedAt);

  const head = el('section', { class: 'card', 'aria-label': label('type', d.type) },
    el('div', { class: 'detail-head' },
      el('span', { class: 'badge', dataset: { priority: d.priority }, text: d.priority }),
      el('h2', { class: 'title', text: label('type', d.type) }),
      el('span', { class: 'status-chip detail-status', dataset: { status: d.status }, text: label('status', d.status) }),
      el('span', { class: 'timer', dataset: { since: String(createdMs ?? Date.now()), unacked: String(unacked) } })),
    el('dl', { class: 'kv' },
      kv(t('detail.id'), shortId(d.id)),
      kv(t('detail.openedAt'), dateTime(createdMs)),
      kv(t('detail.deviceTime'), dateTime(d.deviceTime ?? d.firstDeviceTs)),
      kv(t('detail.events'), String(d.eventCount ?? 1)),
      d.escalationRound > 0 ? kv(t('detail.round'), String(d.escalationRound)) : null,
      d.acknowledgedAt ? kv(t('detail.ackAt'), `${dateTime(d.acknowledgedAt)}${d.acknowledgedBy ? ` · ${d.acknowledgedBy}` : ''}`) : null,
      d.resolvedAt ? kv(t('detail.resolvedAt'), `${dateTime(d.resolvedAt)}${d.resolvedBy ? ` · ${d.resolvedBy}` : ''}`) : null,
      d.outcome ? kv(t('detail.outcome'), label('outcome', d.outcome)) : null,
      d.note ? kv(t('detail.note'), d.note) : null));

  const household = el('section', { class: 'card household' },
    el('h3', { text: t('detail.household') }),
    el('p', { class: 'hh-name', text: hh.name ?? d.householdName ?? '—' }),
    hh.phone ? el('p', {}, el('a', { class: 'tel', href: telHref(hh.phone), 'aria-label': `${t('detail.call')} ${hh.phone}` }, icon('phone'), hh.phone)) : null,
    el('dl', { class: 'kv' },
      kv(t('detail.address'), hh.address ?? '—'),
      kv(t('detail.area'), [hh.district, hh.street, hh.community].filter(Boolean).join(' · ') || '—'),
      kv(t('detail.subsidy'), label('subsidy', hh.subsidyCategory)),
      kv(t('detail.funding'), label('funding', hh.funding)),
      hh.lat !== null && hh.lat !== undefined && hh.lng !== null && hh.lng !== undefined ? kv(t('detail.coords'), `${hh.lat}, ${hh.lng}`) : null),
    el('h3', { text: t('detail.contacts') }),
    (hh.contacts ?? []).length
      ? el('ul', { class: 'contacts' }, (hh.contacts ?? []).map((c) => el('li', {},
        el('span', {}, el('strong', { text: c.name ?? '—' }), c.relation ? ` (${c.relation})` : ''),
        c.phone ? el('a', { class: 'tel', href: telHref(c.phone), 'aria-label': `${t('detail.call')} ${c.name ?? ''} ${c.phone}` }, icon('phone'), c.phone) : null)))
      : el('p', { class: 'muted', text: t('detail.noContacts') }));

  const timeline = el('section', { class: 'card' },
    el('h3', { text: t('detail.timeline') }),
    el('ol', { class: 'timeline' }, (d.timeline ?? []).map((e) => el('li', { dataset: { kind: e.kind } },
      el('time', { datetime: e.at, text: hms(e.at) }),
      el('span', {}, el('span', { class: 'what', dataset: { kind: e.kind }, text: label('timeline', e.kind) }), el('span', { class: 'muted', text: ` · ${actorLabel(e.actor)}` })),
      timelineExtra(e) ? el('span', { class: 'extra', text: timelineExtra(e) }) : null))));

  const dispatchItems = [...(d.dispatches ?? [])].sort((a, b) => (a.round ?? 0) - (b.round ?? 0) || (toMs(a.createdAt) ?? 0) - (toMs(b.createdAt) ?? 0));
  const dispatches = el('section', { class: 'card' },
    el('h3', { text: t('detail.dispatches') }),
    dispatchItems.length
      ? el('ul', { class: 'dispatches' }, dispatchItems.map((x) => el('li', { dataset: { status: x.status, kind: x.recipientKind } },
        el('span', { class: 'name', text: x.recipientName ?? '—' }),
        el('span', { class: 'muted', text: label('recipientKind', x.recipientKind) }),
        el('span', { text: label('channel', x.channel) }),
        el('strong', { class: 'dstatus', dataset: { status: x.status }, text: label('dispatchStatus', x.status) }),
        el('span', { class: 'muted', text: t('detail.attempts', { n: x.attempts ?? 0 }) }),
        el('span', { class: 'muted', text: `${t('detail.roundN', { n: x.round ?? 0 })} · ${hms(x.updatedAt ?? x.createdAt)}` }),
        x.lastError ? el('span', { class: 'err', text: x.lastError }) : null)))
      : el('p', { class: 'muted', text: t('detail.noDispatches') }));

  const recent = (d.recentEvents ?? []).length
    ? el('section', { class: 'card' },
      el('h3', { text: t('detail.recent') }),
      el('ol', { class: 'timeline' }, d.recentEvents.map((e) => el('li', {},
        el('time', { text: hms(e.receivedAt) }),
        el('span', {}, [label('type', e.type), label('state', e.state), e.late ? t('detail.late') : null,
          e.battery !== undefined && e.battery !== null ? t('detail.battery', { n: e.battery }) : null].filter(Boolean).join(' · '))))))
    : null;

  // The action card stays where it is (never detached), so a live refresh does not take the focus away from the
  // note the operator is typing; only the parts around it are replaced.
  const card = actionsCard(d);
  let frame = box.firstElementChild;
  if (!frame || !frame.contains(card)) {
    frame = el('div', { class: 'detail' }, el('div', { class: 'slot-top' }), card, el('div', { class: 'slot-rest' }));
    box.replaceChildren(frame);
  }
  frame.querySelector('.slot-top').replaceChildren(back, head);
  frame.querySelector('.slot-rest').replaceChildren(
    el('div', { class: 'detail-grid' }, household, el('div', { class: 'detail' }, timeline, dispatches, recent)));
  tickTimers();
}

function kv(k, v) {
  return [el('dt', { text: k }), el('dd', { text: v })];
}

function timelineExtra(e) {
  const x = e.details ?? {};
  switch (e.kind) {
    case 'event_received':
    case 'event_attached':
      return [label('type', x.type), x.state ? label('state', x.state) : null, x.deviceEventId ? `#${x.deviceEventId}` : null,
        x.late ? t('detail.late') : null, x.replayed ? t('detail.replayed') : null, x.battery !== undefined && x.battery !== null ? t('detail.battery', { n: x.battery }) : null].filter(Boolean).join(' · ');
    case 'alert_opened':
      return x.priority ?? '';
    case 'dispatch_sent':
    case 'dispatch_failed':
      return [`${label('recipientKind', x.recipientKind)} ${x.recipientName ?? ''}`.trim(), label('channel', x.channel),
        t('detail.roundN', { n: x.round ?? 0 }), t('detail.attempts', { n: x.attempts ?? 0 }), x.error ?? null].filter(Boolean).join(' · ');
    case 'escalated':
      return t('detail.roundN', { n: x.round ?? '' });
    case 'acknowledged':
      return x.role ? label('role', x.role) : '';
    case 'resolved':
      return [label('outcome', x.outcome), x.note ?? null].filter(Boolean).join(' · ');
    default:
      return '';
  }
}

// The action card is built once per alert so a refresh (which happens on every live change) never wipes the
// outcome or note the operator is in the middle of choosing; it is only updated.
let actionEls = null;

function actionsCard(d) {
  if (state.actionsFor !== d.id || !actionEls) {
    const ack = el('button', { type: 'button', id: 'btn-ack', class: 'ok big', onclick: () => void doAcknowledge() });
    const outcome = el('select', { id: 'resolve-outcome', 'aria-label': t('action.outcome') });
    const note = el('input', { id: 'resolve-note', maxlength: '1000', autocomplete: 'off' });
    const resolve = el('button', { type: 'button', id: 'btn-resolve', class: 'primary', onclick: () => void doResolve() });
    const result = el('p', { id: 'action-result', role: 'status', hidden: true });
    actionEls = { ack, outcome, note, resolve, result, card: el('section', { class: 'card actions' }, ack, el('div', { class: 'resolve-row' }, outcome, note, resolve), result) };
    state.actionsFor = d.id;
  }
  const { ack, outcome, note, resolve, result, card } = actionEls;
  const chosen = outcome.value;
  outcome.replaceChildren(el('option', { value: '', text: t('action.pickOutcome') }), ...OUTCOMES.map((o) => el('option', { value: o, text: label('outcome', o) })));
  outcome.value = chosen;
  outcome.setAttribute('aria-label', t('action.outcome'));
  note.placeholder = t('action.notePlaceholder');
  const open = d.status !== 'resolved';
  ack.disabled = !UNACKED.has(d.status) || state.busy !== null;
  ack.textContent = state.busy === 'ack' ? t('action.acking') : UNACKED.has(d.status) ? t('action.ack') : `✓ ${label('status', d.status)}`;
  resolve.disabled = !open || state.busy !== null;
  outcome.disabled = !open;
  note.disabled = !open;
  resolve.textContent = state.busy === 'resolve' ? t('action.resolving') : t('action.resolve');
  const r = state.actionResult?.alertId === d.id ? state.actionResult : null;
  result.hidden = !r;
  result.className = r?.ok ? 'form-ok' : 'form-error';
  result.textContent = r ? r.text() : '';
  return card;
}

/** One click, one request: the result is shown on the alert, then the alert and the queue are read again. */
async function runAction(id, busy, request, okText, afterOk) {
  state.busy = busy;
  renderDetail();
  try {
    await request();
    state.actionResult = { alertId: id, ok: true, text: okText };
    state.noticed.delete(id);
    afterOk?.();
  } catch (e) {
    state.actionResult = { alertId: id, ok: false, text: () => describeError(e) };
  } finally {
    state.busy = null;
  }
  renderDetail();
  await Promise.all([loadDetail(id), refreshQueue()]);
}

async function doAcknowledge() {
  const id = state.selectedId;
  if (!id || state.busy) return;
  await runAction(id, 'ack', () => api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/acknowledge`), () => `✓ ${t('action.acked')}`);
}

async function doResolve() {
  const id = state.selectedId;
  if (!id || state.busy || !actionEls) return;
  const outcome = actionEls.outcome.value;
  const note = actionEls.note.value.trim();
  if (!outcome) {
    state.actionResult = { alertId: id, ok: false, text: () => t('action.needOutcome') };
    renderDetail();
    actionEls.outcome.focus();
    return;
  }
  await runAction(id, 'resolve',
    () => api('POST', `/api/v1/alerts/${encodeURIComponent(id)}/resolve`, note ? { outcome, note } : { outcome }),
    () => `✓ ${t('action.resolved', { outcome: label('outcome', outcome) })}`,
    () => { if (actionEls) actionEls.note.value = ''; });
}

// ---------------------------------------------------------------- SMS log (embedded mode only)

async function loadSms() {
  try {
    const r = await api('GET', '/api/v1/embedded/sms');
    state.smsAvailable = true;
    state.sms = r.items ?? [];
  } catch (e) {
    // 404: a real SMS provider is configured; 403: this role may not read it. Either way: no panel.
    if (e.status === 404 || e.status === 403) state.smsAvailable = false;
  }
  renderSms();
}

function renderSms() {
  $('tab-sms').hidden = !state.smsAvailable;
  if (!state.smsAvailable && state.tab === 'sms') selectTab('queue');
  $('tab-sms-n').textContent = String(state.sms.length);
  $('sms-list').replaceChildren(...state.sms.map((m) => el('li', {},
    el('div', { class: 'meta' },
      el('span', { text: hms(m.at) }),
      el('span', { text: `${t('sms.to')} ${m.to ?? '—'}` }),
      m.reference ? el('span', { text: `${t('sms.ref')} ${shortId(m.reference)}` }) : null),
    el('p', { class: 'text', text: m.text ?? '' }))));
  $('sms-empty').hidden = state.sms.length > 0;
}

function selectTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll('.tab')) b.setAttribute('aria-selected', String(b.dataset.tab === tab));
  $('queue-panel').hidden = tab !== 'queue';
  $('sms-panel').hidden = tab !== 'sms';
  if (tab === 'sms') void loadSms();
}

// ---------------------------------------------------------------- live feed

function connectWs() {
  if (!state.session || state.ws) return;
  clearTimeout(state.wsTimer);
  state.wsStartedAt = Date.now();
  // the token goes in the first message, never in the URL (URLs end up in proxy access logs)
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  let ws;
  try {
    ws = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  state.ws = ws;
  ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'auth', token: state.session?.accessToken ?? '' })));
  ws.addEventListener('message', (ev) => {
    if (state.ws !== ws) return;
    let m;
    try {
      m = JSON.parse(typeof ev.data === 'string' ? ev.data : '');
    } catch {
      return;
    }
    onLiveMessage(m);
  });
  ws.addEventListener('close', (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.connected = false;
    if (ev.code === 4401) {
      logout('login.expired');
      return;
    }
    scheduleReconnect();
    renderConnection();
  });
}

function scheduleReconnect() {
  if (!state.session) return;
  const base = Math.min(30_000, 1000 * 2 ** Math.min(state.wsAttempt, 5));
  const delay = Math.round(base * (0.8 + Math.random() * 0.4));
  state.wsAttempt++;
  state.wsRetryAt = Date.now() + delay;
  clearTimeout(state.wsTimer);
  state.wsTimer = setTimeout(connectWs, delay);
}

let liveRefreshTimer = 0;
let pendingDetail = false;
/** Many changes in a burst (ten alarms at once) become one re-fetch. */
function scheduleLiveRefresh(alertId) {
  if (alertId && alertId === state.selectedId) pendingDetail = true;
  clearTimeout(liveRefreshTimer);
  liveRefreshTimer = setTimeout(() => {
    void refreshQueue();
    if (pendingDetail && state.selectedId) void loadDetail(state.selectedId);
    pendingDetail = false;
    if (state.smsAvailable) void loadSms();
  }, 80);
}

function onLiveMessage(m) {
  switch (m?.type) {
    case 'hello':
      state.connected = true;
      state.wsAttempt = 0;
      renderConnection();
      // Anything that changed while we were not listening.
      pendingDetail = true;
      scheduleLiveRefresh();
      break;
    case 'alert.changed':
      if (m.kind === 'alert_opened' && m.priority === 'P1') beep(m.alertId);
      if (m.kind === 'acknowledged' || m.kind === 'resolved') {
        state.noticed.delete(m.alertId);
        dismissToasts(m.alertId);
      }
      scheduleLiveRefresh(m.alertId);
      break;
    case 'operator.notice':
      if (m.priority === 'P1') beep(`${m.alertId}`);
      state.noticed.add(m.alertId);
      state.rows.get(m.alertId)?.firstElementChild.classList.add('flash');
      toast(m);
      scheduleLiveRefresh(m.alertId);
      break;
    default:
      break;
  }
}

function renderConnection() {
  if (!state.session) return;
  const banner = $('conn-banner');
  const starting = state.wsAttempt === 0 && Date.now() - state.wsStartedAt < 1500;
  banner.hidden = state.connected || starting;
  $('live-dot').dataset.state = state.connected ? 'up' : 'down';
  $('live-dot').title = state.connected ? t('conn.live') : t('conn.offline');
  if (!state.connected) {
    const first = state.wsAttempt === 0;
    $('conn-banner-title').textContent = first ? t('conn.connecting') : t('conn.down');
    const secs = Math.max(0, Math.ceil((state.wsRetryAt - Date.now()) / 1000));
    $('conn-banner-detail').textContent = first ? '' : `${state.ws ? '' : `${t('conn.retry', { s: secs, n: state.wsAttempt })} · `}${t('conn.poll')}`;
  }
}

// ---------------------------------------------------------------- notices

function dismissToasts(alertId) {
  for (const n of [...$('toasts').children]) if (n.dataset.alertId === alertId) n.remove();
}

function toast(m) {
  const box = $('toasts');
  const title = m.reason === 'escalated' ? `${t('toast.escalated')} · ${t('detail.roundN', { n: m.round ?? '' })}` : t('toast.notice');
  const node = el('div', { class: 'toast', role: 'alert', dataset: { priority: m.priority ?? '', alertId: m.alertId ?? '' } },
    el('div', { class: 'toast-body' },
      el('strong', { text: `${m.priority ?? ''} ${label('type', m.alertType)} · ${title}` }),
      el('p', { class: 'toast-text', text: [m.text ?? '', m.householdName ?? state.alerts.find((a) => a.id === m.alertId)?.householdName].filter(Boolean).join(' · ') })),
    m.alertId ? el('button', { type: 'button', class: 'open primary', text: t('toast.open'), onclick: () => { node.remove(); openAlert(m.alertId); } }) : null,
    el('button', { type: 'button', class: 'close ghost', 'aria-label': t('toast.close'), text: '✕', onclick: () => node.remove() }));
  box.append(node);
  while (box.children.length > 5) box.firstElementChild.remove();
  setTimeout(() => node.remove(), m.priority === 'P1' ? 60_000 : 20_000);
}

// ---------------------------------------------------------------- sound

let audioCtx = null;

function ensureAudio() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  if (!audioCtx) {
    audioCtx = new AC();
    audioCtx.addEventListener('statechange', renderSound);
  }
  renderSound();
}

/** Call from a user gesture: creates or resumes the AudioContext the browser keeps suspended until then. */
function unlockAudio() {
  ensureAudio();
  if (audioCtx && audioCtx.state !== 'running') audioCtx.resume().then(renderSound, renderSound);
}

function renderSound() {
  const b = $('sound-toggle');
  b.replaceChildren(icon(state.muted ? 'bell-off' : 'bell'));
  b.setAttribute('aria-pressed', String(!state.muted));
  b.title = state.muted ? t('header.sound.off') : t('header.sound.on');
  b.setAttribute('aria-label', b.title);
  const blocked = !audioCtx || audioCtx.state !== 'running';
  $('audio-hint').hidden = !state.session || state.muted || !blocked;
  if (!$('audio-hint').querySelector('svg')) $('audio-hint').prepend(icon('bell'));
  document.body.dataset.audio = audioCtx ? audioCtx.state : 'none';
}

/** A two-tone alarm (no audio file): three high-low pairs, about 1.3 s. Once per alert within 5 s, once per burst. */
function beep(key) {
  if (state.muted) return;
  const last = state.lastBeep.get(key) ?? 0;
  if (Date.now() - last < 5000) return;
  state.lastBeep.set(key, Date.now());
  if (!audioCtx || audioCtx.state !== 'running') {
    renderSound();
    return;
  }
  // ten alarms in one burst sound once, not ten times on top of each other; the queue shows how many there are
  if (audioCtx.currentTime < state.beepUntil) return;
  const t0 = audioCtx.currentTime + 0.02;
  state.beepUntil = t0 + 1.4;
  for (let i = 0; i < 6; i++) {
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.type = 'square';
    osc.frequency.value = i % 2 === 0 ? 880 : 1320;
    const start = t0 + i * 0.22;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.18);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start(start);
    osc.stop(start + 0.2);
  }
  state.beeps++;
  document.body.dataset.beeps = String(state.beeps);
}

function toggleSound() {
  state.muted = !state.muted;
  try {
    localStorage.setItem(MUTE_KEY, state.muted ? '1' : '0');
  } catch {
    /* ignore */
  }
  if (!state.muted) unlockAudio();
  renderSound();
}

// ---------------------------------------------------------------- language

function applyStaticText() {
  document.documentElement.lang = getLang() === 'en' ? 'en' : 'zh-CN';
  for (const n of document.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
  for (const n of document.querySelectorAll('[data-i18n-title]')) n.title = t(n.dataset.i18nTitle);
}

function toggleLang() {
  setLang(getLang() === 'en' ? 'zh' : 'en');
  applyStaticText();
  if (state.session) {
    renderQueue();
    renderDetail();
    renderSms();
    renderSound();
    renderConnection();
  } else {
    document.title = t('app.title');
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  applyStaticText();
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', () => logout());
  $('sound-toggle').addEventListener('click', toggleSound);
  $('audio-hint').addEventListener('click', unlockAudio);
  for (const b of document.querySelectorAll('[data-action="lang"]')) b.addEventListener('click', toggleLang);
  for (const b of document.querySelectorAll('.tab')) b.addEventListener('click', () => selectTab(b.dataset.tab));
  // Any gesture anywhere may unlock sound (e.g. after a page reload, when the login click is long gone).
  document.addEventListener('pointerdown', () => { if (state.session && !state.muted) unlockAudio(); }, { capture: true });
  document.addEventListener('keydown', () => { if (state.session && !state.muted) unlockAudio(); }, { capture: true });
  window.addEventListener('popstate', (ev) => {
    if (!state.session) return;
    if (ev.state?.alert) openAlert(ev.state.alert, true);
    else setView('queue');
  });
  window.addEventListener('online', () => { if (state.session && !state.ws) connectWs(); });
  document.addEventListener('visibilitychange', () => { if (!document.hidden && state.session && !state.ws) connectWs(); });
  setInterval(everySecond, 1000);

  state.session = loadSession();
  if (!state.session) {
    showLogin(null);
    return;
  }
  const m = /^#alert=([0-9a-f-]{36})$/i.exec(location.hash);
  if (m) {
    state.selectedId = m[1];
    history.replaceState({ alert: m[1] }, '', location.hash);
  }
  enterConsole();
  if (state.selectedId) {
    renderDetail();
    void loadDetail(state.selectedId);
  }
}

init();
