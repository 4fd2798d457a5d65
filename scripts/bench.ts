/**
 * `npm run bench` — the SOS chain of the embedded platform under load, measured from outside like real devices.
 *
 * Starts the built platform as a child process (free ports, fresh data folder, LOG_LEVEL=warn), seeds households
 * with one SOS button each and on-duty aides through the HTTP API, connects one mqtt.js client per device, and
 * presses SOS at a fixed rate (one press per device per round) and then all at once. After each round it reads the
 * alerts and their dispatches back through the API and measures, per alarm:
 *   device ts → alert stored (alert createdAt) and device ts → first dispatch recorded (earliest round-0 aide
 *   dispatch with status sent, its updatedAt), plus the stages in between.
 * Then it runs the naive MQTT → Kafka baseline (../shared/bench/run-baseline.sh) in the same run for scale.
 *
 * Env: BENCH_DEVICES (200), BENCH_RATE (200 alarms/s), BENCH_ROUNDS (5), BENCH_WARMUP (1 round, not counted),
 *      BENCH_MAX_ROUNDS (2, all devices at once), BENCH_COMMUNITIES (10), BENCH_AIDES (3 per community),
 *      BENCH_BASELINE (1; 0 skips it), BENCH_BASELINE_ONLY (c-1k,c-max), BENCH_BASELINE_DIR (../shared/bench),
 *      BENCH_BASELINE_TIMEOUT_S (240), BENCH_OUT (bench-results/),
 *      BENCH_SWEEP (25,50,100: one extra round at each of these rates, reported apart; empty skips it),
 *      BENCH_PROFILE (0; 1 = V8 CPU profile and SQL counts of the platform during the first 200/s round, summarized —
 *      the profiler slows the platform, so a profiled run's latencies are not the ones to report).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  ApiClient, epochMs, mapLimit,
  type AlertDetail, type AlertSummary, type DeviceRegistered, type HouseholdView,
} from './lib/api';
import { closeDevice, connectDevice, nowMs, pressSos } from './lib/device';
import { REPO_ROOT, sleep, startPlatformProcess, type PlatformProcess } from './lib/platform-process';
import { machine, runBaseline } from './lib/baseline';
import { summarizeProfile, type ProfileSummary } from './lib/cpu-profile';
import { fmt, round, summarize, table, type Summary } from './lib/stats';

const int = (name: string, def: number) => {
  const v = process.env[name];
  const n = v === undefined || v === '' ? def : Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number ≥ 0 (got "${v}")`);
  return Math.floor(n);
};

const CFG = {
  devices: Math.max(1, int('BENCH_DEVICES', 200)),
  rate: Math.max(1, int('BENCH_RATE', 200)),
  rounds: int('BENCH_ROUNDS', 5),
  warmup: int('BENCH_WARMUP', 1),
  maxRounds: int('BENCH_MAX_ROUNDS', 2),
  communities: Math.max(1, int('BENCH_COMMUNITIES', 10)),
  aidesPerCommunity: Math.max(1, int('BENCH_AIDES', 3)),
  baseline: process.env.BENCH_BASELINE !== '0',
  baselineOnly: process.env.BENCH_BASELINE_ONLY || 'c-1k,c-max',
  baselineDir: resolve(process.env.BENCH_BASELINE_DIR || join(REPO_ROOT, '..', 'shared', 'bench')),
  baselineTimeoutS: int('BENCH_BASELINE_TIMEOUT_S', 240),
  outDir: resolve(process.env.BENCH_OUT || join(REPO_ROOT, 'bench-results')),
  profile: process.env.BENCH_PROFILE === '1',
  sweep: (process.env.BENCH_SWEEP ?? '25,50,100').split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x) && x > 0),
  settleTimeoutMs: 60_000,
  pauseMs: 1000,
  goalP99Ms: 50,
};

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------------------------------------------------------
// Seeding through the API

interface Home {
  index: number;
  householdId: string;
  serial: string;
  password: string;
  client?: MqttClient;
}

const DISTRICT = '思明区';
const areaOf = (c: number) => ({ district: DISTRICT, street: `街道${Math.floor(c / 5) + 1}`, community: `社区${String(c + 1).padStart(2, '0')}` });
const digits = (n: number, w: number) => String(n).padStart(w, '0');

async function seed(api: ApiClient): Promise<Home[]> {
  const aideJobs: { c: number; a: number }[] = [];
  for (let c = 0; c < CFG.communities; c++) for (let a = 0; a < CFG.aidesPerCommunity; a++) aideJobs.push({ c, a });
  await mapLimit(aideJobs, 6, ({ c, a }) => api.post('/api/v1/aides', {
    name: `助老员${c + 1}-${a + 1}`, phone: `137${digits(c * 100 + a, 8)}`, ...areaOf(c), onDuty: true,
  }));
  return mapLimit(Array.from({ length: CFG.devices }, (_, i) => i), 6, async (i) => {
    const hh = await api.post<HouseholdView>('/api/v1/households', {
      name: `测试老人${i + 1}`, phone: `138${digits(i, 8)}`, address: `厦门市思明区测试路${i + 1}号`, ...areaOf(i % CFG.communities),
      subsidyCategory: 'living_alone', funding: 'government',
      contacts: [{ name: `家属${i + 1}`, phone: `139${digits(i, 8)}`, relation: '子女' }],
    });
    const serial = `BENCH-${digits(i, 4)}`;
    const dev = await api.post<DeviceRegistered>('/api/v1/devices', { serial, type: 'sos' });
    await api.post(`/api/v1/devices/${dev.id}/install`, { householdId: hh.id });
    return { index: i, householdId: hh.id, serial, password: dev.mqtt.password };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// One round: press, wait until every alert has its dispatches on record, read them back

interface Press {
  home: Home;
  ts: number;
  pubackAt: number;
  error?: string;
}

interface Sample {
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
  eventCount: number;
}

interface RoundResult {
  name: string;
  mode: 'paced' | 'max';
  kind: RoundKind;
  counted: boolean;
  targetRate: number | null;
  alarms: number;
  offeredRate: number;
  pressSpanMs: number;
  throughput: number;
  settledMs: number;
  missing: number;
  publishErrors: number;
  platformCpuMsPerAlarm: number;
  simulatorCpuMsPerAlarm: number;
  eventLoopLagMaxMs: number;
  loadavg1: number;
  /** CPU used during the round by every process other than the platform and this bench, in cores (0–nproc). */
  othersCores: number;
  samples: Sample[];
}

/** Busy CPU seconds of the whole machine (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / 100;
  } catch {
    return NaN;
  }
}

function parseMetric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
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

interface RoundHooks {
  /** Just before the first press and just after the round settled (before reading it back). */
  beforePress?: () => Promise<void>;
  afterSettle?: () => Promise<void>;
}

type RoundKind = 'warmup' | 'paced' | 'max' | 'sweep';

interface RoundSpec {
  name: string;
  kind: RoundKind;
  /** Presses per second, or null for all at once. */
  rate: number | null;
}

async function runRound(api: ApiClient, platform: PlatformProcess, homes: Home[], spec: RoundSpec, hooks: RoundHooks = {}): Promise<RoundResult> {
  const { name, rate } = spec;
  const mode = rate === null ? 'max' : 'paced';
  const counted = spec.kind === 'paced' || spec.kind === 'max';
  const tag = `${name}-${Date.now().toString(36)}`;
  await api.text('/metrics'); // resets the event-loop lag window of prom-client
  await hooks.beforePress?.();
  const busy0 = machineBusySeconds();
  const cpu0 = platform.cpuSeconds() ?? NaN;
  const sim0 = process.cpuUsage();
  const t0 = nowMs();
  const presses = await press(homes, rate, tag);
  const lastPress = Math.max(...presses.map((p) => p.ts));
  const firstPress = Math.min(...presses.map((p) => p.ts));

  // wait until every household pressed has an alert that left 'open' (dispatch recorded on its timeline)
  const wanted = new Set(presses.filter((p) => !p.error).map((p) => p.home.householdId));
  let alerts: AlertSummary[] = [];
  const deadline = Date.now() + CFG.settleTimeoutMs;
  for (;;) {
    const list = await api.get<{ items: AlertSummary[] }>('/api/v1/alerts?status=open');
    alerts = list.items.filter((a) => wanted.has(a.householdId));
    if (alerts.length >= wanted.size && alerts.every((a) => a.status !== 'open')) break;
    if (Date.now() > deadline) {
      log(`round ${name}: only ${alerts.filter((a) => a.status !== 'open').length}/${wanted.size} alerts dispatched after ${CFG.settleTimeoutMs} ms`);
      break;
    }
    await sleep(200);
  }
  const settledMs = nowMs() - t0;
  const cpu1 = platform.cpuSeconds() ?? NaN;
  const sim1 = process.cpuUsage(sim0);
  const busy1 = machineBusySeconds();
  const othersCores = (busy1 - busy0 - (cpu1 - cpu0) - (sim1.user + sim1.system) / 1e6) / (settledMs / 1000);
  await hooks.afterSettle?.();
  const metrics = await api.text('/metrics');
  const lagMax = parseMetric(metrics, 'linan_nodejs_eventloop_lag_max_seconds') * 1000;

  const details = await mapLimit(alerts, 6, (a) => api.get<AlertDetail>(`/api/v1/alerts/${a.id}`));
  const byHousehold = new Map(details.map((d) => [d.householdId, d]));
  const samples: Sample[] = presses.map((p) => {
    const d = byHousehold.get(p.home.householdId);
    const rel = (t: number) => t - p.ts;
    const r0 = d?.dispatches.filter((x) => x.round === 0) ?? [];
    const aideSent = r0.filter((x) => x.recipientKind === 'aide' && x.status === 'sent').map((x) => epochMs(x.updatedAt));
    const received = d?.timeline.find((t) => t.kind === 'event_received');
    const sentOnTimeline = d?.timeline.filter((t) => t.kind === 'dispatch_sent').map((t) => epochMs(t.at)) ?? [];
    return {
      round: name, serial: p.home.serial, alertId: d?.id ?? null,
      puback: rel(p.pubackAt),
      gatewayReceived: received ? rel(epochMs(received.at)) : NaN,
      alertStored: d ? rel(epochMs(d.createdAt)) : NaN,
      dispatchCreated: r0.length ? rel(Math.min(...r0.map((x) => epochMs(x.createdAt)))) : NaN,
      firstDispatch: aideSent.length ? rel(Math.min(...aideSent)) : NaN,
      onTimeline: sentOnTimeline.length ? rel(Math.min(...sentOnTimeline)) : NaN,
      eventCount: d?.eventCount ?? 0,
    };
  });
  const lastDispatch = Math.max(...samples.map((s, i) => presses[i].ts + s.firstDispatch).filter(Number.isFinite));
  const missing = samples.filter((s) => !Number.isFinite(s.firstDispatch)).length;

  await mapLimit(details, 6, (d) => api.post(`/api/v1/alerts/${d.id}/resolve`, { outcome: 'test', note: `bench ${name}` }));
  await sleep(CFG.pauseMs); // let the alert-change consumers drain before the next round

  const result: RoundResult = {
    name, mode, kind: spec.kind, counted, targetRate: rate, alarms: presses.length,
    offeredRate: rate !== null ? presses.length / ((lastPress - firstPress) / 1000 + 1 / rate) : presses.length / Math.max(0.001, (lastPress - firstPress) / 1000),
    pressSpanMs: lastPress - firstPress,
    throughput: (presses.length - missing) / ((lastDispatch - firstPress) / 1000),
    settledMs, missing, publishErrors: presses.filter((p) => p.error).length,
    platformCpuMsPerAlarm: ((cpu1 - cpu0) * 1000) / presses.length,
    simulatorCpuMsPerAlarm: (sim1.user + sim1.system) / 1000 / presses.length,
    eventLoopLagMaxMs: lagMax,
    loadavg1: loadavg()[0],
    othersCores,
    samples,
  };
  const fd = summarize(samples.map((s) => s.firstDispatch));
  log(`${name.padEnd(9)} ${mode === 'max' ? 'all at once' : `${fmt(result.offeredRate, 0)}/s`}: first dispatch p50 ${fmt(fd.p50)} p99 ${fmt(fd.p99)} max ${fmt(fd.max)} ms, ` +
    `throughput ${fmt(result.throughput, 0)}/s, platform cpu ${fmt(result.platformCpuMsPerAlarm)} ms/alarm, loop lag max ${fmt(lagMax)} ms` +
    `${missing ? `, ${missing} MISSING` : ''}${result.publishErrors ? `, ${result.publishErrors} publish errors` : ''}`);
  return result;
}

interface SqlWindow {
  windowMs: number;
  execSyncMs: number;
  syncToFsMs: number;
  syncToFsCount: number;
  statements: { sql: string; count: number; heldMs: number; maxMs: number }[];
}

const la = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const MB = (b: number | undefined) => (b === undefined || !Number.isFinite(b) ? '-' : `${fmt(b / 2 ** 20, 0)} MiB`);

async function main(): Promise<void> {
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const m = machine();
  const loadAtStart = loadavg();
  log(`${m.nproc} × ${m.cpuModel}, node ${m.node}; load average ${la()}`);
  if (loadAtStart[0] > m.nproc / 2) log(`note: load average ${loadAtStart[0].toFixed(2)} on ${m.nproc} cores — other work is running; figures will be noisier`);

  mkdirSync(CFG.outDir, { recursive: true });
  const profileBase = join(CFG.outDir, `profile-${runId}.cpuprofile`);
  const platform = await startPlatformProcess({
    env: { LOG_LEVEL: 'warn', ESCALATION_ACK_TIMEOUT_S: '600', ...(CFG.profile ? { BENCH_PROFILE_FILE: profileBase } : {}) },
    nodeArgs: CFG.profile ? ['--require', join(__dirname, 'lib', 'profile-hook.js')] : [],
  });
  const profiling: { summary: ProfileSummary | null; sql: SqlWindow | null; alarms: number } = { summary: null, sql: null, alarms: 0 };
  const profileCut = async (n: number) => {
    process.kill(platform.pid, 'SIGWINCH');
    const f = profileBase.replace(/\.cpuprofile$/, `-${n}.cpuprofile`);
    for (let i = 0; i < 100 && !existsSync(f); i++) await sleep(100);
    await sleep(300);
    return f;
  };
  const clients: MqttClient[] = [];
  const rounds: RoundResult[] = [];
  const mem: Record<string, { rss: number; peakRss: number } | null> = {};
  let seedMs = 0;
  let connectMs = 0;
  let firstDispatchHistogram: Record<string, number> = {};
  try {
    log(`platform pid ${platform.pid} healthy after ${platform.startupMs} ms: ${platform.httpUrl}, ${platform.mqttUrl}, data ${platform.dataDir}`);
    mem.started = platform.memory();
    const api = new ApiClient(platform.httpUrl);
    await api.login('admin', platform.adminPassword);

    let t = Date.now();
    const homes = await seed(api);
    seedMs = Date.now() - t;
    log(`seeded ${homes.length} households + devices and ${CFG.communities * CFG.aidesPerCommunity} aides in ${CFG.communities} communities in ${seedMs} ms`);

    t = Date.now();
    await mapLimit(homes, 20, async (h) => {
      h.client = await connectDevice(platform.mqttUrl, h.serial, h.password);
      clients.push(h.client);
    });
    connectMs = Date.now() - t;
    mem.seeded = platform.memory();
    log(`${homes.length} devices connected in ${connectMs} ms; platform RSS ${MB(mem.seeded?.rss)}`);

    const plan: RoundSpec[] = [
      ...Array.from({ length: CFG.warmup }, (_, i): RoundSpec => ({ name: `warmup${i + 1}`, kind: 'warmup', rate: CFG.rate })),
      ...Array.from({ length: CFG.rounds }, (_, i): RoundSpec => ({ name: `paced${i + 1}`, kind: 'paced', rate: CFG.rate })),
      ...Array.from({ length: CFG.maxRounds }, (_, i): RoundSpec => ({ name: `max${i + 1}`, kind: 'max', rate: null })),
      ...CFG.sweep.map((r): RoundSpec => ({ name: `sweep${r}`, kind: 'sweep', rate: r })),
    ];
    // with BENCH_PROFILE=1 the profile summarized is the one of the first counted paced round, press → settled
    const profiled = plan.find((p) => p.kind === 'paced') ?? plan[0];
    for (const step of plan) {
      const hooks: RoundHooks = CFG.profile && step === profiled ? {
        beforePress: async () => void (await profileCut(1)),
        afterSettle: async () => {
          const f = await profileCut(2);
          profiling.summary = summarizeProfile(f);
          profiling.sql = JSON.parse(readFileSync(f.replace(/\.cpuprofile$/, '.sql.json'), 'utf8')) as SqlWindow;
          profiling.alarms = homes.length;
          log(`CPU profile of round ${step.name} (press → settled): ${relative(REPO_ROOT, f)} (open in Chrome DevTools → Performance)`);
        },
      } : {};
      rounds.push(await runRound(api, platform, homes, step, hooks));
    }
    mem.end = platform.memory();

    const metrics = await api.text('/metrics');
    firstDispatchHistogram = Object.fromEntries(
      [...metrics.matchAll(/^linan_device_to_first_dispatch_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((x) => [x[1], Number(x[2])]),
    );
  } catch (e) {
    const tail = platform.output().trim().split('\n').slice(-30).join('\n');
    log(`platform ${platform.exit() ? `exited (${platform.exit()})` : 'still running'}; its last output:\n${tail}`);
    throw e;
  } finally {
    await Promise.all(clients.map((c) => closeDevice(c).catch(() => undefined)));
    await platform.stop();
  }
  const loadAfterPlatform = loadavg();

  const baseline = await runBaseline(runId, { ...CFG, repoRoot: REPO_ROOT }, log);

  // ---- figures ----
  const paced = rounds.filter((r) => r.counted && r.mode === 'paced');
  const maxed = rounds.filter((r) => r.counted && r.mode === 'max');
  const all = (rs: RoundResult[], k: keyof Sample) => summarize(rs.flatMap((r) => r.samples.map((s) => s[k] as number)));
  const tput = (rs: RoundResult[]) => summarize(rs.map((r) => r.throughput));
  const stages: [string, keyof Sample][] = [
    ['device ts → PUBACK (event durable on the bus)', 'puback'],
    ['device ts → gateway received (event_received)', 'gatewayReceived'],
    ['device ts → alert stored (alert createdAt)', 'alertStored'],
    ['device ts → dispatches recorded (pending)', 'dispatchCreated'],
    ['device ts → first dispatch recorded (aide SMS sent)', 'firstDispatch'],
    ['device ts → dispatch_sent on the timeline', 'onTimeline'],
  ];
  const figures = {
    paced: Object.fromEntries(stages.map(([, k]) => [k, all(paced, k)])),
    max: Object.fromEntries(stages.map(([, k]) => [k, all(maxed, k)])),
    pacedThroughput: tput(paced),
    maxThroughput: tput(maxed),
  };
  const pacedFD = figures.paced.firstDispatch as Summary;
  const pacedAS = figures.paced.alertStored as Summary;
  const maxFD = figures.max.firstDispatch as Summary;
  const maxAS = figures.max.alertStored as Summary;
  const offered = summarize(paced.map((r) => r.offeredRate));

  const out: string[] = [];
  out.push('');
  out.push(`邻安 Lin'an SOS chain benchmark — run ${runId}`);
  out.push(`machine: ${m.nproc} × ${m.cpuModel}, ${m.memGiB} GiB, Linux ${m.kernel}, node ${m.node}`);
  out.push(`load average (1/5/15 min): at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}, after the platform runs ${loadAfterPlatform.map((x) => x.toFixed(2)).join(' ')}`);
  const others = summarize(rounds.map((r) => r.othersCores));
  out.push(`other processes on the machine during the rounds: ${fmt(others.mean)} cores on average (max ${fmt(others.max)}) of ${m.nproc}`);
  out.push(`setup: ${CFG.devices} households × 1 SOS device, ${CFG.communities} communities × ${CFG.aidesPerCommunity} on-duty aides, 1 family contact each; ` +
    `${CFG.warmup} warm-up round (not counted), ${CFG.rounds} paced rounds at ${CFG.rate}/s, ${CFG.maxRounds} rounds all at once` +
    `${CFG.sweep.length ? `, then one round at each of ${CFG.sweep.join(', ')}/s` : ''}; alerts resolved (outcome test) between rounds`);
  out.push(`platform: embedded (aedes + PGlite + in-process bus), LOG_LEVEL=warn, ESCALATION_ACK_TIMEOUT_S=600; started in ${fmt(platform.startupMs / 1000)} s, seeding ${fmt(seedMs / 1000)} s, ${CFG.devices} MQTT connects ${fmt(connectMs / 1000)} s`);
  out.push('');
  out.push('Latency from the device\'s ts (ms) and throughput');
  const head = ['run', 'measure', 'N', 'alarms/s', 'p50', 'p90', 'p99', 'max'];
  const row = (run: string, what: string, s: Summary, rate: string) => [run, what, s.n, rate, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  const rows: (string | number)[][] = [
    row(`Lin'an paced ${fmt(offered.p50, 0)}/s`, 'device → alert stored', pacedAS, ''),
    row(`Lin'an paced ${fmt(offered.p50, 0)}/s`, 'device → first dispatch recorded', pacedFD, fmt(figures.pacedThroughput.p50, 0)),
    row(`Lin'an ${CFG.devices} at once`, 'device → alert stored', maxAS, ''),
    row(`Lin'an ${CFG.devices} at once`, 'device → first dispatch recorded', maxFD, fmt(figures.maxThroughput.p50, 0)),
  ];
  for (const b of baseline.rows) {
    rows.push([`baseline ${b.key}`, 'MQTT → naive gw → Kafka → consumer', b.n, fmt(b.rate, 0), fmt(b.lat?.p50), fmt(b.lat?.p90), fmt(b.lat?.p99), fmt(b.lat?.max)]);
  }
  out.push(table(head, rows, [0, 1]));
  out.push('alarms/s = alarms of a round ÷ (first press → last first dispatch), median over the rounds' +
    (baseline.rows.length ? '; baseline msg/s = messages ÷ (first publish → last consumed)' : ''));
  if (baseline.status !== 'ok') out.push(`baseline: ${baseline.status}${baseline.reason ? ` (${baseline.reason})` : ''}`);
  else out.push(`baseline: ${baseline.command} (${baseline.seconds} s) → ${baseline.resultsFile}`);
  out.push('');
  out.push('Stages, paced rounds (ms after the device ts; each row includes the ones above)');
  out.push(table(['stage', 'N', 'p50', 'p90', 'p99', 'max'], stages.map(([label, k]) => {
    const s = figures.paced[k] as Summary;
    return [label, s.n, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  })));
  out.push('');
  out.push('Per round');
  out.push(table(
    ['round', 'offered/s', 'press span ms', 'alarms/s', 'stored p99', 'dispatch p50', 'dispatch p99', 'missing', 'platform cpu ms/alarm', 'bench cpu ms/alarm', 'loop lag max ms', 'others cores', 'load1'],
    rounds.map((r) => {
      const fd = summarize(r.samples.map((s) => s.firstDispatch));
      const as = summarize(r.samples.map((s) => s.alertStored));
      return [`${r.name}${r.counted ? '' : ' *'}`, r.mode === 'max' ? 'all' : fmt(r.offeredRate, 0), fmt(r.pressSpanMs, 0), fmt(r.throughput, 0), fmt(as.p99), fmt(fd.p50), fmt(fd.p99),
        r.missing, fmt(r.platformCpuMsPerAlarm), fmt(r.simulatorCpuMsPerAlarm), fmt(r.eventLoopLagMaxMs), fmt(r.othersCores), r.loadavg1.toFixed(2)];
    }),
  ));
  out.push('* not in the headline figures (warm-up, rate sweep). cpu = process CPU time during the round (incl. the API polling that waits for it) ÷ alarms;');
  out.push(`  others cores = CPU used meanwhile by all other processes on the machine, in cores of ${m.nproc} (other people's work; 0 = the machine was ours)`);
  const sweep = rounds.filter((r) => r.kind === 'sweep');
  if (sweep.length) {
    out.push('');
    out.push(`Rate sweep: one round of ${CFG.devices} alarms at each rate (ms after the device ts)`);
    out.push(table(['offered/s', 'alarms/s', 'stored p50', 'stored p99', 'dispatch p50', 'dispatch p90', 'dispatch p99', 'dispatch max', 'platform cpu ms/alarm', 'loop lag max ms'],
      sweep.map((r) => {
        const fd = summarize(r.samples.map((x) => x.firstDispatch));
        const as = summarize(r.samples.map((x) => x.alertStored));
        return [fmt(r.offeredRate, 0), fmt(r.throughput, 0), fmt(as.p50), fmt(as.p99), fmt(fd.p50), fmt(fd.p90), fmt(fd.p99), fmt(fd.max), fmt(r.platformCpuMsPerAlarm), fmt(r.eventLoopLagMaxMs)];
      })));
  }
  out.push('');
  out.push(`platform memory: RSS ${MB(mem.started?.rss)} at start, ${MB(mem.seeded?.rss)} after seeding + connects, ${MB(mem.end?.rss)} at the end; peak ${MB(mem.end?.peakRss)}` +
    (baseline.rows.some((b) => b.gateways?.length) ? `; baseline naive gateway RSS ${baseline.rows.map((b) => `${b.key} ${b.gateways?.[0]?.rssMB ?? '-'} MB`).join(', ')}` : ''));
  const le = (k: string) => firstDispatchHistogram[k];
  if (firstDispatchHistogram['+Inf'] !== undefined) {
    out.push(`platform's own histogram linan_device_to_first_dispatch_seconds (all rounds incl. warm-up): ${le('+Inf')} observations, ` +
      `${le('0.025')} ≤ 25 ms, ${le('0.05')} ≤ 50 ms, ${le('0.1')} ≤ 100 ms, ${le('0.25')} ≤ 250 ms`);
  }
  const met = pacedFD.n > 0 && pacedFD.p99 < CFG.goalP99Ms && offered.p50 >= CFG.rate * 0.95 && paced.every((r) => r.missing === 0);
  out.push(`goal: p99 device → first dispatch < ${CFG.goalP99Ms} ms at ${CFG.rate} alarms/s: ${met ? 'MET' : 'NOT MET'} ` +
    `(p99 ${fmt(pacedFD.p99)} ms over ${pacedFD.n} alarms at ${fmt(offered.p50, 0)}/s offered)`);
  const profile = profiling.summary;
  if (profile) {
    const busy = profile.totalMs - profile.idleMs;
    out.push('');
    out.push(`CPU profile of the platform during one paced round, first press → all dispatched (BENCH_PROFILE=1; profiler overhead included): ${fmt(profile.totalMs / 1000)} s wall, ` +
      `${fmt(busy / 1000)} s busy on the main thread (${fmt((100 * busy) / profile.totalMs, 0)}%)`);
    out.push(table(['self time by area', 'ms', 'share'], profile.byArea.map((a) => [a.area, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]));
    out.push('');
    out.push(table(['heaviest functions (self time)', 'ms', 'share'], profile.topFunctions.map((a) => [a.fn, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]));
    out.push('');
    out.push(table(['project code, inclusive time', 'ms', 'share'], profile.topProjectInclusive.map((a) => [a.fn, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]));
  }
  const sql = profiling.sql;
  if (sql) {
    const count = sql.statements.reduce((a, x) => a + x.count, 0);
    const held = sql.statements.reduce((a, x) => a + x.heldMs, 0);
    const per = (x: number) => fmt(x / profiling.alarms);
    out.push('');
    out.push(`SQL in the same window (${profiling.alarms} alarms, ${fmt(sql.windowMs / 1000)} s): ${count} statements (${per(count)} per alarm incl. the bench's API reads), ` +
      `database held ${fmt(held / 1000)} s (${fmt((100 * held) / sql.windowMs, 0)}% of the window, ${per(held)} ms per alarm); ` +
      `inside PostgreSQL ${fmt(sql.execSyncMs / 1000)} s, flushing PGlite's files (syncToFs) ${fmt(sql.syncToFsMs / 1000)} s over ${sql.syncToFsCount} flushes`);
    out.push(table(['statement (by time holding the database)', 'count', 'per alarm', 'held ms', 'mean ms', 'max ms'],
      sql.statements.slice(0, 15).map((x) => [x.sql.slice(0, 110), x.count, per(x.count), fmt(x.heldMs, 0), fmt(x.heldMs / x.count), fmt(x.maxMs)]), [0]));
  }
  const text = out.join('\n');
  process.stdout.write(text + '\n');

  const file = join(CFG.outDir, `bench-${runId}.json`);
  writeFileSync(file, JSON.stringify({
    runId, command: 'npm run bench', config: CFG, machine: m, loadavg: { atStart: loadAtStart, afterPlatform: loadAfterPlatform },
    platform: { env: platform.env, startupMs: platform.startupMs, seedMs, connectMs, memory: mem, firstDispatchHistogram },
    figures: { ...figures, goalMet: met },
    rounds: rounds.map(({ samples, ...r }) => ({ ...r, firstDispatch: summarize(samples.map((s) => s.firstDispatch)), alertStored: summarize(samples.map((s) => s.alertStored)) })),
    baseline, profile, profileSql: profiling.sql,
    samples: rounds.flatMap((r) => r.samples.map((s) => ({ ...s, ...Object.fromEntries(stages.map(([, k]) => [k, round(s[k] as number, 2)])) }))),
    table: text,
  }, null, 1));
  writeFileSync(join(CFG.outDir, `bench-${runId}.txt`), text + '\n');
  log(`results: ${relative(REPO_ROOT, file)} (+ .txt); older runs: ${readdirSync(CFG.outDir).filter((f) => f.startsWith('bench-') && f.endsWith('.json')).length - 1}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\n[bench] FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
