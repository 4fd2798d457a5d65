/**
 * One round of the bench, the same for every way the platform runs: press SOS on every device (at a rate or all at
 * once), wait until every alarm has its first dispatch on record, read the alerts back, measure each alarm from the
 * device's ts, and resolve the alerts (outcome test) so the next round opens new ones.
 */
import { loadavg } from 'node:os';
import { ApiClient, mapLimit } from './api';
import type { Home } from './bench-seed';
import { nowMs, pressSos } from './device';
import type { LiveWatcher } from './live-watcher';
import { sleep } from './platform-process';
import { cpuBetween, cpuSnapshot, machineBusySeconds, type Accounted, type CpuSnapshot } from './proc-stats';
import { fmt, summarize } from './stats';

/** What the bench needs to know of one alarm's alert, as epoch ms (NaN when the step did not happen). */
export interface AlertRecord {
  id: string;
  householdId: string;
  /** The alert's createdAt (opened). */
  createdAt: number;
  /** The first `event_received` on the timeline: when the gateway took the device's message. */
  eventReceivedAt: number;
  /** Earliest createdAt of the round-0 dispatches (recorded as pending). */
  dispatchCreatedAt: number;
  /** Earliest updatedAt of a round-0 aide dispatch with status sent: the first dispatch recorded. */
  firstAideSentAt: number;
  /** The first `dispatch_sent` on the timeline. */
  dispatchSentOnTimelineAt: number;
  eventCount: number;
}

/** Where a round's alerts are read from. */
export interface RoundSource {
  /** How often progress() is polled while a round settles. */
  pollMs: number;
  /** Called just before a round's first press. */
  roundStarts?(): Promise<void>;
  /** Of these households' unresolved alerts: how many there are, and how many have left `open` (dispatched). */
  progress(households: ReadonlySet<string>): Promise<{ opened: number; dispatched: number }>;
  /** These households' unresolved alerts. */
  read(households: ReadonlySet<string>): Promise<AlertRecord[]>;
  /** Upkeep after a round's alerts are resolved, before the next (a database vacuum); returns what it did, or null. */
  betweenRounds?(): Promise<string | null>;
}

/** The platform under test, however it runs. */
export interface BenchTarget {
  name: string;
  api: ApiClient;
  source: RoundSource;
  /** The processes whose CPU is counted: the platform's, its services', and the bench's own. */
  accounted(): Promise<Accounted[]>;
  /**
   * Per app: the maximum event-loop lag since the last call, in ms (each call starts a new window), and the time its
   * garbage collector has taken since it started, in seconds (a counter).
   */
  appMetrics(): Promise<Record<string, AppMetrics>>;
}

export interface AppMetrics {
  lagMaxMs: number;
  /** Garbage collection so far, all kinds, and the full (major: mark-sweep-compact) collections alone. */
  gcSeconds: number;
  majorGcSeconds: number;
  /** Kafka requests answered so far: the app's consumers' fetches and its producer's produce requests (0 in embedded mode). */
  kafkaFetches: number;
  kafkaProduces: number;
}

export type RoundKind = 'warmup' | 'paced' | 'max' | 'sweep' | 'step';

export interface RoundSpec {
  name: string;
  kind: RoundKind;
  /** Presses per second, or null for all at once. */
  rate: number | null;
  /** How many of the devices press (default: all). */
  devices?: number;
}

export interface RoundHooks {
  /** Just before the first press and just after the round settled (before reading it back). */
  beforePress?: () => Promise<void>;
  afterSettle?: () => Promise<void>;
}

export interface Sample {
  round: string;
  serial: string;
  alertId: string | null;
  /** Each value in ms after the device's ts (NaN when the step did not happen). */
  puback: number;
  gatewayReceived: number;
  alertStored: number;
  dispatchCreated: number;
  firstDispatch: number;
  onTimeline: number;
  /** When an operator's console on the live channel (/ws) first showed the alert. */
  consoleShown: number;
  eventCount: number;
}

export interface RoundResult {
  name: string;
  mode: 'paced' | 'max';
  kind: RoundKind;
  counted: boolean;
  targetRate: number | null;
  alarms: number;
  offeredRate: number;
  pressSpanMs: number;
  /** Alarms ÷ (first press → last first dispatch). */
  throughput: number;
  /** Completions per second between the 10th and the 90th percentile completion: the rate the chain kept once going. */
  drainRate: number;
  settledMs: number;
  missing: number;
  publishErrors: number;
  /** CPU ms per alarm: the platform's processes, the services under it, the bench itself. */
  platformCpuMsPerAlarm: number;
  servicesCpuMsPerAlarm: number;
  simulatorCpuMsPerAlarm: number;
  /** CPU ms per alarm and cores used during the round, per process label. */
  cpuByProcess: Record<string, { kind: Accounted['kind']; msPerAlarm: number; cores: number; syscallsPerAlarm: number }>;
  eventLoopLagMaxMs: number;
  lagByApp: Record<string, number>;
  /** Garbage collection per alarm, in ms of each app's main thread (from its /metrics), all kinds and major alone. */
  gcMsPerAlarmByApp: Record<string, number>;
  majorGcMsPerAlarmByApp: Record<string, number>;
  /** Kafka fetch and produce requests per alarm, per app. */
  kafkaFetchesPerAlarmByApp: Record<string, number>;
  kafkaProducesPerAlarmByApp: Record<string, number>;
  loadavg1: number;
  /** CPU used during the round by every process not accounted for (other people's work), in cores (0–nproc). */
  othersCores: number;
  samples: Sample[];
}

/** How long a round waits at most, after the last dispatch is on record, for the console's live channel to show every alert. */
const LIVE_WAIT_MS = 5_000;

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

/** The largest finite value, NaN when there is none. */
export const maxOf = (xs: readonly number[]): number => xs.filter(Number.isFinite).reduce((a, b) => (Number.isNaN(a) || b > a ? b : a), NaN);

interface Press {
  home: Home;
  ts: number;
  pubackAt: number;
  error?: string;
}

async function press(homes: Home[], rate: number | null, tag: string): Promise<Press[]> {
  const presses: Press[] = [];
  let pending = homes.length;
  let allAcked!: () => void;
  const acked = new Promise<void>((r) => (allAcked = r));
  const fire = (home: Home) => {
    const ts = nowMs();
    const p: Press = { home, ts, pubackAt: NaN };
    presses.push(p);
    pressSos(home.client!, home.serial, `${tag}-${home.index}`, ts, (err, at) => {
      if (err) p.error = err.message;
      else p.pubackAt = at;
      if (--pending === 0) allAcked();
    });
  };
  if (rate === null) {
    for (const h of homes) fire(h);
  } else {
    const interval = 1000 / rate;
    const start = nowMs() + 5;
    for (let i = 0; i < homes.length; i++) {
      const wait = start + i * interval - nowMs();
      if (wait > 1) await sleep(wait);
      else if (wait > 0) await new Promise((r) => setImmediate(r));
      fire(homes[i]);
    }
  }
  const timeout = sleep(30_000).then(() => 'timeout' as const);
  if ((await Promise.race([acked.then(() => 'ok' as const), timeout])) === 'timeout') log(`round ${tag}: ${pending} PUBACKs still missing after 30 s`);
  return presses;
}

export interface RoundOptions {
  settleTimeoutMs: number;
  pauseMs: number;
  /** Requests in flight when resolving the round's alerts. */
  resolveConcurrency?: number;
  /** The platform's CPU when idle, in cores (see measureIdle). */
  idleCores?: number;
  /** An operator's console on the live channel: when each alert was shown there. */
  live?: LiveWatcher;
}

/** The sum of CPU seconds by kind between two snapshots. */
function cpuOf(a: CpuSnapshot, b: CpuSnapshot) {
  const by = cpuBetween(a, b);
  const sum = (k: Accounted['kind']) => [...by.values()].filter((x) => x.kind === k).reduce((s, x) => s + x.seconds, 0);
  return { by, platform: sum('platform'), service: sum('service'), bench: sum('bench') };
}

/** CPU the platform's processes use when nothing happens (consumers polling Kafka, timers), in cores: in all and by process. */
export async function measureIdle(target: BenchTarget, ms = 3000): Promise<{ cores: number; byProcess: Record<string, number> }> {
  const platform = (await target.accounted()).filter((p) => p.kind === 'platform');
  const a = cpuSnapshot(platform);
  await sleep(ms);
  const used = cpuOf(a, cpuSnapshot(platform));
  return { cores: used.platform / (ms / 1000), byProcess: Object.fromEntries([...used.by].map(([label, x]) => [label, x.seconds / (ms / 1000)])) };
}

/**
 * Waits until the platform's processes are back to idle (within 0.1 cores of `idleCores` for two windows of 250 ms,
 * at most `maxMs`), so the work of resolving the last round (alert changes on their way to the consoles) does not
 * run into the next.
 */
export async function waitQuiet(target: BenchTarget, idleCores = 0, maxMs = 15_000): Promise<number> {
  const t0 = Date.now();
  const platform = (await target.accounted()).filter((p) => p.kind === 'platform');
  let quiet = 0;
  let prev = cpuSnapshot(platform);
  while (Date.now() - t0 < maxMs) {
    await sleep(250);
    const cur = cpuSnapshot(platform);
    quiet = cpuOf(prev, cur).platform / 0.25 < idleCores * 1.25 + 0.1 ? quiet + 1 : 0;
    prev = cur;
    if (quiet >= 2) break;
  }
  return Date.now() - t0;
}

export async function runRound(target: BenchTarget, allHomes: Home[], spec: RoundSpec, o: RoundOptions, hooks: RoundHooks = {}): Promise<RoundResult> {
  const { name, rate } = spec;
  const homes = allHomes.slice(0, spec.devices ?? allHomes.length);
  const mode = rate === null ? 'max' : 'paced';
  const counted = spec.kind === 'paced' || spec.kind === 'max';
  const tag = `${name}-${Date.now().toString(36)}`;
  const metrics0 = await target.appMetrics(); // starts a new lag window
  await hooks.beforePress?.();
  const before = await target.accounted();
  const busy0 = machineBusySeconds();
  const snap0 = cpuSnapshot(before);
  await target.source.roundStarts?.();
  const t0 = nowMs();
  const presses = await press(homes, rate, tag);
  const lastPress = Math.max(...presses.map((p) => p.ts));
  const firstPress = Math.min(...presses.map((p) => p.ts));

  // wait until every household pressed has an alert that left 'open' (its first dispatch is on record)
  const wanted = new Set(presses.filter((p) => !p.error).map((p) => p.home.householdId));
  const deadline = Date.now() + o.settleTimeoutMs;
  for (;;) {
    const { opened, dispatched } = await target.source.progress(wanted);
    if (opened >= wanted.size && dispatched >= opened) break;
    if (Date.now() > deadline) {
      log(`round ${name}: only ${dispatched}/${wanted.size} alerts dispatched (${opened} opened) after ${o.settleTimeoutMs} ms`);
      break;
    }
    await sleep(target.source.pollMs);
  }
  const settledMs = nowMs() - t0;
  const after = await target.accounted();
  const snap1 = cpuSnapshot([...before, ...after.filter((a) => !before.some((b) => b.pid === a.pid))]);
  const busy1 = machineBusySeconds();
  const cpu = cpuOf(snap0, snap1);
  const wallS = settledMs / 1000;
  const othersCores = (busy1 - busy0 - cpu.platform - cpu.service - cpu.bench) / wallS;
  await hooks.afterSettle?.();
  const metrics1 = await target.appMetrics();
  const lagByApp = Object.fromEntries(Object.entries(metrics1).map(([app, m]) => [app, m.lagMaxMs]));

  const records = await target.source.read(wanted);
  // the live view may still be on its way when the last dispatch is on record (outside the CPU counted above)
  const live = o.live;
  if (live) {
    await live.waitForShown(records.map((r) => r.id), LIVE_WAIT_MS);
    if (live.closed) log(`round ${name}: the console's live channel closed (${live.closed}); its column is empty from here`);
  }
  const byHousehold = new Map(records.map((r) => [r.householdId, r]));
  const samples: Sample[] = presses.map((p) => {
    const r = byHousehold.get(p.home.householdId);
    const rel = (t: number | undefined) => (t === undefined ? NaN : t - p.ts);
    return {
      round: name, serial: p.home.serial, alertId: r?.id ?? null,
      puback: rel(p.pubackAt),
      gatewayReceived: rel(r?.eventReceivedAt),
      alertStored: rel(r?.createdAt),
      dispatchCreated: rel(r?.dispatchCreatedAt),
      firstDispatch: rel(r?.firstAideSentAt),
      onTimeline: rel(r?.dispatchSentOnTimelineAt),
      consoleShown: rel(live?.shownAt(r?.id)),
      eventCount: r?.eventCount ?? 0,
    };
  });
  const done = samples.map((s, i) => presses[i].ts + s.firstDispatch).filter(Number.isFinite).sort((a, b) => a - b);
  const lastDispatch = done[done.length - 1];
  const missing = samples.length - done.length;
  const [i10, i90] = [Math.floor(done.length * 0.1), Math.ceil(done.length * 0.9) - 1];
  const drainRate = done.length >= 10 && done[i90] > done[i10] ? ((i90 - i10) * 1000) / (done[i90] - done[i10]) : NaN;

  const tResolve = Date.now();
  await mapLimit(records, o.resolveConcurrency ?? 6, (r) => target.api.post(`/api/v1/alerts/${r.id}/resolve`, { outcome: 'test', note: `bench ${name}` }));
  const resolveMs = Date.now() - tResolve;
  await sleep(o.pauseMs); // let the alert-change consumers drain before the next round
  const upkeep = await target.source.betweenRounds?.() ?? null;
  const quietMs = await waitQuiet(target, o.idleCores);

  const n = presses.length;
  const perAlarm = (k: Exclude<keyof AppMetrics, 'lagMaxMs'>, scale = 1) =>
    Object.fromEntries(Object.entries(metrics1).map(([app, m]) => [app, ((m[k] - (metrics0[app]?.[k] ?? NaN)) * scale) / n]));
  const result: RoundResult = {
    name, mode, kind: spec.kind, counted, targetRate: rate, alarms: n,
    offeredRate: rate !== null ? n / ((lastPress - firstPress) / 1000 + 1 / rate) : n / Math.max(0.001, (lastPress - firstPress) / 1000),
    pressSpanMs: lastPress - firstPress,
    throughput: done.length / ((lastDispatch - firstPress) / 1000),
    drainRate,
    settledMs, missing, publishErrors: presses.filter((p) => p.error).length,
    platformCpuMsPerAlarm: (cpu.platform * 1000) / n,
    servicesCpuMsPerAlarm: (cpu.service * 1000) / n,
    simulatorCpuMsPerAlarm: (cpu.bench * 1000) / n,
    cpuByProcess: Object.fromEntries([...cpu.by].map(([label, x]) => [label, { kind: x.kind, msPerAlarm: (x.seconds * 1000) / n, cores: x.seconds / wallS, syscallsPerAlarm: x.syscalls / n }])),
    eventLoopLagMaxMs: maxOf(Object.values(lagByApp)),
    lagByApp,
    gcMsPerAlarmByApp: perAlarm('gcSeconds', 1000),
    majorGcMsPerAlarmByApp: perAlarm('majorGcSeconds', 1000),
    kafkaFetchesPerAlarmByApp: perAlarm('kafkaFetches'),
    kafkaProducesPerAlarmByApp: perAlarm('kafkaProduces'),
    loadavg1: loadavg()[0],
    othersCores,
    samples,
  };
  const fd = summarize(samples.map((s) => s.firstDispatch));
  log(`${target.name}: ${name.padEnd(9)} ${mode === 'max' ? 'all at once' : `${fmt(result.offeredRate, 0)}/s`}: first dispatch p50 ${fmt(fd.p50)} p99 ${fmt(fd.p99)} max ${fmt(fd.max)} ms, ` +
    `throughput ${fmt(result.throughput, 0)}/s (drain ${fmt(drainRate, 0)}/s), platform cpu ${fmt(result.platformCpuMsPerAlarm)} ms/alarm` +
    `${cpu.service ? ` + services ${fmt(result.servicesCpuMsPerAlarm)}` : ''}, loop lag max ${fmt(result.eventLoopLagMaxMs)} ms` +
    `${missing ? `, ${missing} MISSING` : ''}${result.publishErrors ? `, ${result.publishErrors} publish errors` : ''}; ` +
    `settled ${fmt(settledMs / 1000)} s, resolved in ${fmt(resolveMs / 1000)} s${upkeep ? `, ${upkeep}` : ''}, quiet ${fmt((o.pauseMs + quietMs) / 1000)} s later`);
  return result;
}

/** The rounds of a scenario, in order: warm-up, paced at the headline rate, all at once, the sweep, the step-up. */
export function roundPlan(s: { devices: number; rate: number; warmup: number; rounds: number; maxRounds: number; sweep: number[]; steps: number[]; stepSeconds: number }): RoundSpec[] {
  return [
    ...Array.from({ length: s.warmup }, (_, i): RoundSpec => ({ name: `warmup${i + 1}`, kind: 'warmup', rate: s.rate })),
    ...Array.from({ length: s.rounds }, (_, i): RoundSpec => ({ name: `paced${i + 1}`, kind: 'paced', rate: s.rate })),
    ...Array.from({ length: s.maxRounds }, (_, i): RoundSpec => ({ name: `max${i + 1}`, kind: 'max', rate: null })),
    ...s.sweep.map((r): RoundSpec => ({ name: `sweep${r}`, kind: 'sweep', rate: r })),
    ...s.steps.map((r): RoundSpec => ({ name: `step${r}`, kind: 'step', rate: r, devices: Math.min(s.devices, Math.ceil(r * s.stepSeconds)) })),
  ];
}
