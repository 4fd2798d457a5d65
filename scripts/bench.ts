/**
 * `npm run bench` — the SOS chain under load, measured from outside like real devices, in both ways the platform runs:
 *
 * - embedded: the built platform as one child process (aedes, PGlite, in-process bus; free ports, fresh data folder);
 * - distributed: librdkafka's mock cluster (Kafka protocol), the project's Mosquitto, a fresh PostgreSQL database
 *   and a Redis key prefix, with gateway (1, then 2 replicas), triage, dispatch, provisioning and console each as its
 *   own process (`dist/apps/<app>/main.js`).
 *
 * Each run seeds households with one SOS button each and on-duty aides through the HTTP API, connects one mqtt.js
 * client per device (with the credentials registration returned), and presses SOS in rounds: warm-up, paced at the
 * headline rate, all at once, a sweep below and a step-up above it. After each round it reads the alerts and their
 * dispatches back and measures, per alarm, device ts → alert stored and device ts → first dispatch recorded
 * (earliest round-0 aide dispatch with status sent), plus the stages in between, and CPU per alarm of every process.
 * Then it runs the naive MQTT → Kafka baseline (../shared/bench/run-baseline.sh) in the same run for scale.
 *
 * Settings: scripts/lib/bench-config.ts (BENCH_MODE=embedded|distributed|both, …); docs/performance.md explains them.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import type { MqttClient } from 'mqtt';
import { ApiClient } from './lib/api';
import { ApiRoundSource } from './lib/api-round-source';
import { machine, runBaseline } from './lib/baseline';
import { BenchConfigError, loadBenchConfig, type BenchConfig } from './lib/bench-config';
import { figuresOf, keptPace, renderReport, STAGES, type TargetRun } from './lib/bench-report';
import { log, measureIdle, roundPlan, runRound, waitQuiet, type BenchTarget, type RoundHooks, type RoundResult } from './lib/bench-round';
import { connectHomes, seed } from './lib/bench-seed';
import { summarizeProfile } from './lib/cpu-profile';
import { closeDevice } from './lib/device';
import { startDistributedPlatform } from './lib/distributed-platform';
import { LiveWatcher } from './lib/live-watcher';
import { REPO_ROOT, sleep, startPlatformProcess } from './lib/platform-process';
import { cpuBetween, cpuSnapshot } from './lib/proc-stats';
import { fmt, round, table } from './lib/stats';

const PROFILE_HOOK = join(__dirname, 'lib', 'profile-hook.js');

/** The platform's own histogram of device → first dispatch, from a /metrics text: upper bound → cumulative count. */
const histogramOf = (metrics: string): Record<string, number> => Object.fromEntries(
  [...metrics.matchAll(/^linan_device_to_first_dispatch_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((x) => [x[1], Number(x[2])]),
);
const histogramDiff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]));

/** Profiles written by profile-hook on SIGWINCH: the window since the previous signal goes to <base>-<n>.cpuprofile. */
async function profileCut(pid: number, base: string, n: number): Promise<string> {
  process.kill(pid, 'SIGWINCH');
  const f = base.replace(/\.cpuprofile$/, `-${n}.cpuprofile`);
  for (let i = 0; i < 100 && !existsSync(f); i++) await sleep(100);
  await sleep(300);
  return f;
}

interface SqlWindow {
  windowMs: number;
  execSyncMs: number;
  syncToFsMs: number;
  syncToFsCount: number;
  statements: { sql: string; count: number; heldMs: number; maxMs: number }[];
}

/** The statements an app sent to PostgreSQL during the profiled round (profile-hook's node-postgres accounting). */
function pgSqlLines(label: string, sql: SqlWindow, alarms: number): string[] {
  const count = sql.statements.reduce((a, x) => a + x.count, 0);
  const waited = sql.statements.reduce((a, x) => a + x.heldMs, 0);
  const per = (x: number) => fmt(x / alarms);
  return ['',
    `SQL sent by ${label} in the same window (${alarms} alarms, ${fmt(sql.windowMs / 1000)} s): ${count} statements (${per(count)} per alarm), ` +
    `${fmt(waited / 1000)} s waiting for answers in total over its connections (${per(waited)} ms per alarm)`,
    table(['statement (by total time to answer)', 'count', 'per alarm', 'total ms', 'mean ms', 'max ms'],
      sql.statements.slice(0, 12).map((x) => [x.sql.slice(0, 110), x.count, per(x.count), fmt(x.heldMs, 0), fmt(x.heldMs / x.count), fmt(x.maxMs)]), [0]),
  ];
}

function sqlLines(sql: SqlWindow, alarms: number): string[] {
  const count = sql.statements.reduce((a, x) => a + x.count, 0);
  const held = sql.statements.reduce((a, x) => a + x.heldMs, 0);
  const per = (x: number) => fmt(x / alarms);
  return ['',
    `SQL in the same window (${alarms} alarms, ${fmt(sql.windowMs / 1000)} s): ${count} statements (${per(count)} per alarm incl. the bench's API reads), ` +
    `database held ${fmt(held / 1000)} s (${fmt((100 * held) / sql.windowMs, 0)}% of the window, ${per(held)} ms per alarm); ` +
    `inside PostgreSQL ${fmt(sql.execSyncMs / 1000)} s, flushing PGlite's files (syncToFs) ${fmt(sql.syncToFsMs / 1000)} s over ${sql.syncToFsCount} flushes`,
    table(['statement (by time holding the database)', 'count', 'per alarm', 'held ms', 'mean ms', 'max ms'],
      sql.statements.slice(0, 15).map((x) => [x.sql.slice(0, 110), x.count, per(x.count), fmt(x.heldMs, 0), fmt(x.heldMs / x.count), fmt(x.maxMs)]), [0]),
  ];
}

/**
 * Runs the scenario's rounds on a target; with profiling, the first counted paced round (or the last:
 * BENCH_PROFILE_ROUND) is cut out of each profiled process.
 */
async function runRounds(CFG: BenchConfig, target: BenchTarget, homes: Parameters<typeof runRound>[1], scenario: Parameters<typeof roundPlan>[0],
  profiled: { label: string; pid: number; base: string }[], onProfile: (label: string, file: string) => void): Promise<{ rounds: RoundResult[]; idleCores: number; idleByProcess: Record<string, number> }> {
  const plan = roundPlan(scenario);
  const paced = plan.filter((p) => p.kind === 'paced');
  const profiledRound = (CFG.profileRound === 'last' ? paced.at(-1) : paced[0]) ?? plan[0];
  const { cores: idleCores, byProcess: idleByProcess } = await measureIdle(target);
  // an operator's console on the live channel, as the browser page holds it: when each alert is shown there
  const live = await LiveWatcher.open(target.api.baseUrl, target.api.accessToken ?? '')
    .catch((err: Error) => void log(`${target.name}: no console on the live channel (${err.message}); the report leaves its stage empty`));
  log(`${target.name}: the platform's processes use ${fmt(idleCores)} cores when idle (${Object.entries(idleByProcess).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})`);
  const rounds: RoundResult[] = [];
  let stepsShort = 0;
  try {
    for (const step of plan) {
      if (step.kind === 'step' && stepsShort >= 2) {
        log(`${target.name}: step-up stopped after two steps in a row that did not keep pace; skipping ${step.name}`);
        continue;
      }
      const hooks: RoundHooks = profiled.length && step === profiledRound ? {
        beforePress: async () => void (await Promise.all(profiled.map((p) => profileCut(p.pid, p.base, 1)))),
        afterSettle: async () => {
          const files = await Promise.all(profiled.map((p) => profileCut(p.pid, p.base, 2)));
          profiled.forEach((p, i) => onProfile(p.label, files[i]));
        },
      } : {};
      const r = await runRound(target, homes, step, { settleTimeoutMs: CFG.settleTimeoutMs, pauseMs: CFG.pauseMs, resolveConcurrency: 8, idleCores, live }, hooks);
      rounds.push(r);
      if (step.kind === 'step') stepsShort = keptPace(r) ? 0 : stepsShort + 1;
    }
  } finally {
    live?.close();
  }
  return { rounds, idleCores, idleByProcess };
}

async function runEmbedded(CFG: BenchConfig, runId: string): Promise<TargetRun> {
  const sc = CFG.embedded;
  const profileBase = join(CFG.outDir, `profile-${runId}-embedded.cpuprofile`);
  const platform = await startPlatformProcess({
    env: { ...CFG.platformEnv, LOG_LEVEL: 'warn', ESCALATION_ACK_TIMEOUT_S: '600', ...(CFG.profile ? { BENCH_PROFILE_FILE: profileBase } : {}) },
    nodeArgs: CFG.profile ? ['--require', PROFILE_HOOK] : [],
  });
  const clients: MqttClient[] = [];
  const memory: TargetRun['memory'] = {};
  const mem = () => ({ platform: platform.memory() });
  const profiles: TargetRun['profiles'] = [];
  let sql: string[] = [];
  try {
    log(`embedded platform pid ${platform.pid} healthy after ${platform.startupMs} ms: ${platform.httpUrl}, ${platform.mqttUrl}, data ${platform.dataDir}`);
    memory.started = mem();
    const api = new ApiClient(platform.httpUrl);
    await api.login('admin', platform.adminPassword);
    let t = Date.now();
    const homes = await seed(api, sc);
    const seedMs = Date.now() - t;
    log(`seeded ${homes.length} households + devices and ${sc.communities * sc.aidesPerCommunity} aides in ${seedMs} ms`);
    t = Date.now();
    clients.push(...(await connectHomes(homes, platform.mqttUrl)));
    const connectMs = Date.now() - t;
    memory.seeded = mem();
    const source = new ApiRoundSource(api);
    const target: BenchTarget = {
      name: 'embedded', api, source,
      accounted: async () => [{ label: 'platform', kind: 'platform', pid: platform.pid }, { label: 'bench', kind: 'bench', pid: process.pid }],
      appMetrics: async () => ({ platform: await source.takeMetrics() }),
    };
    const { rounds, idleCores, idleByProcess } = await runRounds(CFG, target, homes, sc, CFG.profile ? [{ label: 'the embedded platform', pid: platform.pid, base: profileBase }] : [], (label, f) => {
      profiles.push({ label, summary: summarizeProfile(f) });
      sql = sqlLines(JSON.parse(readFileSync(f.replace(/\.cpuprofile$/, '.sql.json'), 'utf8')) as SqlWindow, homes.length);
      log(`CPU profile of ${label}: ${relative(REPO_ROOT, f)} (open in Chrome DevTools → Performance)`);
    });
    memory.end = mem();
    return {
      name: 'embedded', kind: 'embedded', scenario: sc,
      platformLine: `embedded (aedes + PGlite + in-process bus) in one process, LOG_LEVEL=warn, ESCALATION_ACK_TIMEOUT_S=600${Object.keys(CFG.platformEnv).length ? `, ${Object.entries(CFG.platformEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
      startupMs: platform.startupMs, seedMs, connectMs, rounds, idleCores, idleByProcess, memory,
      histogram: histogramOf(await api.text('/metrics')), profiles, sqlLines: sql,
    };
  } catch (e) {
    log(`platform ${platform.exit() ? `exited (${platform.exit()})` : 'still running'}; its last output:\n${platform.output().trim().split('\n').slice(-30).join('\n')}`);
    throw e;
  } finally {
    await Promise.all(clients.map((c) => closeDevice(c).catch(() => undefined)));
    await platform.stop();
  }
}

async function runDistributed(CFG: BenchConfig, runId: string): Promise<TargetRun[]> {
  const sc = CFG.distributed;
  const profiledApps = ['gateway-1', 'triage', 'dispatch', 'console'];
  const profileBase = (label: string) => join(CFG.outDir, `profile-${runId}-${label}.cpuprofile`);
  const settings = {
    KAFKA_MAX_WAIT_MS: String(sc.kafkaMaxWaitMs), MQTT_GATEWAY_CONNECTIONS: String(sc.gatewayConnections), DATABASE_POOL_SIZE: String(sc.poolSize),
  };
  const dp = await startDistributedPlatform({
    gateways: sc.gateways[0], env: { ...CFG.platformEnv, ...settings }, log,
    perApp: (label) => (CFG.profile && profiledApps.includes(label)
      ? { nodeArgs: [...sc.nodeArgs, '--require', PROFILE_HOOK], env: { BENCH_PROFILE_FILE: profileBase(label) } }
      : { nodeArgs: sc.nodeArgs }),
  });
  const clients: MqttClient[] = [];
  const runs: TargetRun[] = [];
  try {
    log(`distributed platform healthy after ${dp.startupMs} ms (services + apps): edge ${dp.edgeUrl}; ${dp.apps.map((a) => `${a.label} pid ${a.pid}`).join(', ')}`);
    const memory0 = dp.memory();
    const api = new ApiClient(dp.edgeUrl);
    await api.login('admin', dp.adminPassword);
    let t = Date.now();
    const who = await dp.target('', api).accounted();
    const cpu0 = cpuSnapshot(who);
    const homes = await seed(api, { ...sc, concurrency: 8 });
    const seedMs = Date.now() - t;
    const seedCpu = [...cpuBetween(cpu0, cpuSnapshot(who))].sort((a, b) => b[1].seconds - a[1].seconds).slice(0, 4);
    log(`seeded ${homes.length} households + devices (each with its Mosquitto account) and ${sc.communities * sc.aidesPerCommunity} aides in ${seedMs} ms; ` +
      `CPU meanwhile: ${seedCpu.map(([l, x]) => `${l} ${fmt(x.seconds)} s`).join(', ')}`);
    t = Date.now();
    clients.push(...(await connectHomes(homes, dp.deviceMqttUrl)));
    const connectMs = Date.now() - t;
    log(`${homes.length} devices connected to Mosquitto in ${connectMs} ms`);
    const memorySeeded = dp.memory();
    const dispatchApp = () => dp.apps.find((a) => a.app === 'dispatch')!;
    const dispatchMetrics = () => fetch(`${dispatchApp().httpUrl}/metrics`).then((r) => r.text());
    const platformLine = () => `distributed: ${dp.apps.map((a) => a.label).join(', ')} as separate processes (node dist/apps/<app>/main.js` +
      `${dp.apps.some((a) => a.label.startsWith('naive-')) ? '; naive-*: node dist/scripts/naive-chain.js <role>' : ''}); ` +
      `Kafka = librdkafka mock cluster in kcat (1 broker, 4 partitions), Mosquitto 2.0 with the project's config and dynamic security, ` +
      `PostgreSQL 15 on 127.0.0.1:5432 (fresh database), Redis (a redis-server of its own, no persistence); ` +
      `${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ')} LOG_LEVEL=warn ESCALATION_ACK_TIMEOUT_S=600` +
      `${sc.nodeArgs.length ? `; every app with node ${sc.nodeArgs.join(' ')}` : ''}` +
      `${Object.keys(CFG.platformEnv).length ? ` ${Object.entries(CFG.platformEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
    for (const [i, gateways] of sc.gateways.entries()) {
      await dp.scaleGateways(gateways);
      await waitQuiet(dp.target('', api), 0, 5_000);
      const name = `distributed ${gateways} gw`;
      const hist0 = histogramOf(await dispatchMetrics());
      const profiles: TargetRun['profiles'] = [];
      const profiled = CFG.profile && i === 0 ? dp.apps.filter((a) => profiledApps.includes(a.label)).map((a) => ({ label: a.label, pid: a.pid, base: profileBase(a.label) })) : [];
      const sql: string[] = [];
      const alarmsProfiled = Math.min(homes.length, sc.devices);
      const { rounds, idleCores, idleByProcess } = await runRounds(CFG, dp.target(name, api), homes, sc, profiled, (label, f) => {
        profiles.push({ label, summary: summarizeProfile(f) });
        sql.push(...pgSqlLines(label, JSON.parse(readFileSync(f.replace(/\.cpuprofile$/, '.sql.json'), 'utf8')) as SqlWindow, alarmsProfiled));
        log(`CPU profile of ${label}: ${relative(REPO_ROOT, f)} (open in Chrome DevTools → Performance)`);
      });
      runs.push({
        name, kind: 'distributed', scenario: sc, platformLine: platformLine(),
        startupMs: dp.startupMs, seedMs, connectMs, rounds, idleCores, idleByProcess,
        memory: { started: memory0, seeded: memorySeeded, end: dp.memory() },
        histogram: histogramDiff(hist0, histogramOf(await dispatchMetrics())), profiles, sqlLines: sql,
      });
    }
    if (sc.naive) {
      // the same services, devices and rounds, with the least code that does the alarm path's durable work
      await dp.useNaiveChain();
      await waitQuiet(dp.target('', api), 0, 5_000);
      const name = 'naive chain, 1 gw';
      const { rounds, idleCores, idleByProcess } = await runRounds(CFG, dp.target(name, api), homes, sc, [], () => undefined);
      runs.push({
        name, kind: 'distributed', scenario: sc, platformLine: platformLine(),
        startupMs: dp.startupMs, seedMs, connectMs, rounds, idleCores, idleByProcess,
        memory: { started: memory0, seeded: memorySeeded, end: dp.memory() }, histogram: {}, profiles: [], sqlLines: [],
      });
    }
    return runs;
  } catch (e) {
    for (const a of dp.apps) {
      const tail = a.output().trim().split('\n').slice(-15).join('\n');
      if (tail) log(`${a.label} ${a.exit() ? `exited (${a.exit()})` : 'still running'}; its last output:\n${tail}`);
    }
    log(`mosquitto's last log lines:\n${await dp.mosquitto.logTail(15)}`);
    throw e;
  } finally {
    await Promise.all(clients.map((c) => closeDevice(c).catch(() => undefined)));
    await dp.stop();
  }
}

async function main(): Promise<void> {
  const CFG = loadBenchConfig();
  const runId = new Date().toISOString().replace(/[:.]/g, '-');
  const m = machine();
  const loadAtStart = loadavg();
  log(`${m.nproc} × ${m.cpuModel}, node ${m.node}; load average ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}; mode ${CFG.mode}`);
  if (loadAtStart[0] > m.nproc / 2) log(`note: load average ${loadAtStart[0].toFixed(2)} on ${m.nproc} cores — other work is running; figures will be noisier`);
  mkdirSync(CFG.outDir, { recursive: true });

  const runs: TargetRun[] = [];
  if (CFG.mode !== 'distributed') runs.push(await runEmbedded(CFG, runId));
  if (CFG.mode !== 'embedded') runs.push(...(await runDistributed(CFG, runId)));
  const loadAtEnd = loadavg();
  const baseline = await runBaseline(runId, { ...CFG, repoRoot: REPO_ROOT, env: CFG.env }, log);

  const text = renderReport({ runId, machine: m, loadAtStart, loadAtEnd, runs, baseline });
  process.stdout.write(text + '\n');
  const file = join(CFG.outDir, `bench-${runId}.json`);
  const { env: _env, ...shownConfig } = CFG;
  writeFileSync(file, JSON.stringify({
    runId, command: 'npm run bench', config: shownConfig, machine: m, loadavg: { atStart: loadAtStart, afterPlatform: loadAtEnd },
    runs: runs.map((r) => ({
      ...r, figures: figuresOf(r),
      rounds: r.rounds.map(({ samples, ...x }) => x),
      samples: r.rounds.flatMap((x) => x.samples.map((s) => ({ ...s, ...Object.fromEntries(STAGES.map(([, k]) => [k, round(s[k] as number, 2)])) }))),
    })),
    baseline, table: text,
  }, null, 1));
  writeFileSync(join(CFG.outDir, `bench-${runId}.txt`), text + '\n');
  log(`results: ${relative(REPO_ROOT, file)} (+ .txt); older runs: ${readdirSync(CFG.outDir).filter((f) => f.startsWith('bench-') && f.endsWith('.json')).length - 1}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    // a settings error says everything in its message; anything else gets its stack
    process.stderr.write(`\n[bench] FAILED: ${err instanceof BenchConfigError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
