/** The bench's printed report: one table of headline figures for every run and the baseline, then each run's detail. */
import type { BaselineResult } from './baseline';
import type { Scenario } from './bench-config';
import { maxOf, type RoundResult, type Sample } from './bench-round';
import type { AllocationSummary, ProfileSummary } from './cpu-profile';
import { fmt, summarize, table, type Summary } from './stats';

/** Everything measured on one way of running the platform. */
export interface TargetRun {
  name: string;
  kind: 'embedded' | 'distributed';
  scenario: Scenario;
  /** One line on how the platform ran (processes, services, settings). */
  platformLine: string;
  startupMs: number;
  seedMs: number;
  connectMs: number;
  rounds: RoundResult[];
  /** CPU of the platform's processes with nothing to do, in cores. */
  idleCores: number;
  /** The same by process label. */
  idleByProcess: Record<string, number>;
  /** RSS per process label at start, after seeding, at the end (bytes). */
  memory: Record<string, Record<string, { rss: number; peakRss: number } | null>>;
  /** The platform's own histogram linan_device_to_first_dispatch_seconds over this run's rounds: upper bound → count. */
  histogram: Record<string, number>;
  profiles: { label: string; summary: ProfileSummary }[];
  sqlLines: string[];
}

export const STAGES: [string, keyof Sample][] = [
  ['device ts → PUBACK', 'puback'],
  ['device ts → gateway received (event_received)', 'gatewayReceived'],
  ['device ts → alert stored (alert createdAt)', 'alertStored'],
  ['device ts → dispatches recorded (pending)', 'dispatchCreated'],
  ['device ts → first dispatch recorded (aide SMS sent)', 'firstDispatch'],
  ['device ts → dispatch_sent on the timeline', 'onTimeline'],
  ['device ts → shown on an operator\'s console (live channel /ws)', 'consoleShown'],
];

const all = (rs: RoundResult[], k: keyof Sample) => summarize(rs.flatMap((r) => r.samples.map((s) => s[k] as number)));
const mean = (xs: number[]) => summarize(xs).mean;
const MB = (b: number | undefined) => (b === undefined || !Number.isFinite(b) ? '-' : `${fmt(b / 2 ** 20, 0)} MiB`);

export interface Figures {
  offered: number;
  paced: Record<string, Summary>;
  max: Record<string, Summary>;
  pacedThroughput: Summary;
  maxThroughput: Summary;
  maxDrain: Summary;
  /** The highest offered rate that completed at its pace with none missing, and the round that showed it. */
  sustained: { rate: number; round: string; drain: number; p99: number } | null;
  /** The lowest offered rate that did not. */
  firstShort: { rate: number; round: string; drain: number; missing: number } | null;
  goalMet: boolean;
}

/** A round kept the pace when its completions ran at ≥ 95% of the offered rate in their middle 80%, with none missing. */
export const keptPace = (r: RoundResult) => r.missing === 0 && r.publishErrors === 0 && r.drainRate >= 0.95 * r.offeredRate;

export function figuresOf(run: TargetRun): Figures {
  const paced = run.rounds.filter((r) => r.counted && r.mode === 'paced');
  const maxed = run.rounds.filter((r) => r.counted && r.mode === 'max');
  const rated = run.rounds.filter((r) => r.kind !== 'warmup' && r.mode === 'paced').sort((a, b) => a.offeredRate - b.offeredRate);
  // sustained: every rate up to it kept pace (a 1,000/s burst that drained in time says nothing once 500/s did not)
  const short = rated.find((r) => !keptPace(r));
  const kept = rated.filter((r) => keptPace(r) && (!short || r.offeredRate < short.offeredRate));
  const top = kept[kept.length - 1];
  const offered = summarize(paced.map((r) => r.offeredRate)).p50;
  const fd = all(paced, 'firstDispatch');
  return {
    offered,
    paced: Object.fromEntries(STAGES.map(([, k]) => [k, all(paced, k)])),
    max: Object.fromEntries(STAGES.map(([, k]) => [k, all(maxed, k)])),
    pacedThroughput: summarize(paced.map((r) => r.throughput)),
    maxThroughput: summarize(maxed.map((r) => r.throughput)),
    maxDrain: summarize(maxed.map((r) => r.drainRate)),
    sustained: top ? { rate: top.offeredRate, round: top.name, drain: top.drainRate, p99: summarize(top.samples.map((s) => s.firstDispatch)).p99 } : null,
    firstShort: short ? { rate: short.offeredRate, round: short.name, drain: short.drainRate, missing: short.missing } : null,
    goalMet: fd.n > 0 && fd.p99 <= run.scenario.goalP99Ms && offered >= run.scenario.rate * 0.95 && paced.every((r) => r.missing === 0),
  };
}

export interface ReportInput {
  runId: string;
  machine: { nproc: number; cpuModel: string; memGiB: number; kernel: string; node: string };
  loadAtStart: number[];
  loadAtEnd: number[];
  runs: TargetRun[];
  baseline: BaselineResult;
}

export function renderReport(input: ReportInput): string {
  const { machine: m, runs, baseline } = input;
  const out: string[] = [];
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  out.push('');
  out.push(`邻安 Lin'an SOS chain benchmark — run ${input.runId}`);
  out.push(`machine: ${m.nproc} × ${m.cpuModel}, ${m.memGiB} GiB, Linux ${m.kernel}, node ${m.node}`);
  out.push(`load average (1/5/15 min): at start ${la(input.loadAtStart)}, after the platform runs ${la(input.loadAtEnd)}`);
  for (const run of runs) {
    const others = summarize(run.rounds.map((r) => r.othersCores));
    out.push(`other processes on the machine during the ${run.name} rounds: ${fmt(others.mean)} cores on average (max ${fmt(others.max)}) of ${m.nproc}`);
  }
  out.push('');
  out.push('Latency from the device\'s ts (ms) and throughput');
  const rows: (string | number)[][] = [];
  const row = (who: string, what: string, s: Summary, rate: string) => [who, what, s.n, rate, fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];
  for (const run of runs) {
    const f = figuresOf(run);
    rows.push(row(`${run.name} paced ${fmt(f.offered, 0)}/s`, 'device → alert stored', f.paced.alertStored, ''));
    rows.push(row(`${run.name} paced ${fmt(f.offered, 0)}/s`, 'device → first dispatch recorded', f.paced.firstDispatch, fmt(f.pacedThroughput.p50, 0)));
    rows.push(row(`${run.name} ${run.scenario.devices} at once`, 'device → alert stored', f.max.alertStored, ''));
    rows.push(row(`${run.name} ${run.scenario.devices} at once`, 'device → first dispatch recorded', f.max.firstDispatch, fmt(f.maxThroughput.p50, 0)));
  }
  for (const b of baseline.rows) {
    rows.push([`baseline ${b.key}`, 'MQTT → naive gw → Kafka → consumer', b.n, fmt(b.rate, 0), fmt(b.lat?.p50), fmt(b.lat?.p90), fmt(b.lat?.p99), fmt(b.lat?.max)]);
  }
  out.push(table(['run', 'measure', 'N', 'alarms/s', 'p50', 'p90', 'p99', 'max'], rows, [0, 1]));
  out.push('alarms/s = alarms of a round ÷ (first press → last first dispatch), median over the rounds' +
    (baseline.rows.length ? '; baseline msg/s = messages ÷ (first publish → last consumed)' : ''));
  if (baseline.status !== 'ok') out.push(`baseline: ${baseline.status}${baseline.reason ? ` (${baseline.reason})` : ''}`);
  else out.push(`baseline: ${baseline.command} (${baseline.seconds} s) → ${baseline.resultsFile}`);
  for (const run of runs) {
    const f = figuresOf(run);
    const fd = f.paced.firstDispatch;
    out.push(`goal (${run.name}): p99 device → first dispatch ≤ ${run.scenario.goalP99Ms} ms at ${run.scenario.rate} alarms/s: ${f.goalMet ? 'MET' : 'NOT MET'} ` +
      `(p99 ${fmt(fd.p99)} ms over ${fd.n} alarms at ${fmt(f.offered, 0)}/s offered)`);
  }
  for (const run of runs) out.push(...renderRun(run));
  return out.join('\n');
}

function renderRun(run: TargetRun): string[] {
  const out: string[] = [];
  const s = run.scenario;
  const f = figuresOf(run);
  out.push('');
  out.push(`==== ${run.name} ====`);
  out.push(`platform: ${run.platformLine}`);
  out.push(`setup: ${s.devices} households × 1 SOS device, ${s.communities} communities × ${s.aidesPerCommunity} on-duty aides, 1 family contact each; ` +
    `${s.warmup} warm-up round (not counted), ${s.rounds} paced rounds at ${s.rate}/s, ${s.maxRounds} rounds all at once` +
    `${s.sweep.length ? `, one round at each of ${s.sweep.join(', ')}/s` : ''}` +
    `${s.steps.length ? `, step-up ${s.steps.join(', ')}/s (${s.stepSeconds} s of presses each, stopped after two steps in a row that did not keep pace)` : ''}; ` +
    `alerts resolved (outcome test) between rounds`);
  out.push(`started in ${fmt(run.startupMs / 1000)} s, seeding ${fmt(run.seedMs / 1000)} s, ${s.devices} MQTT connects ${fmt(run.connectMs / 1000)} s; ` +
    `the platform's processes use ${fmt(run.idleCores)} cores when idle (${Object.entries(run.idleByProcess).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}; ` +
    'included in the cpu figures below)');
  out.push('');
  out.push('Stages, paced rounds (ms after the device ts; each row includes the ones above)');
  out.push(table(['stage', 'N', 'p50', 'p90', 'p99', 'max'], STAGES.map(([label, k]) => {
    const x = f.paced[k];
    return [label, x.n, fmt(x.p50), fmt(x.p90), fmt(x.p99), fmt(x.max)];
  })));
  const distributed = run.kind === 'distributed';
  out.push('');
  out.push('Per round');
  out.push(table(
    ['round', 'offered/s', 'press span ms', 'alarms/s', 'drain/s', 'stored p99', 'dispatch p50', 'dispatch p99', 'missing', 'platform cpu ms/alarm',
      ...(distributed ? ['services cpu ms/alarm'] : []), 'bench cpu ms/alarm', 'loop lag max ms', 'others cores', 'load1'],
    run.rounds.map((r) => {
      const fd = summarize(r.samples.map((x) => x.firstDispatch));
      const as = summarize(r.samples.map((x) => x.alertStored));
      return [`${r.name}${r.counted ? '' : ' *'}`, r.mode === 'max' ? 'all' : fmt(r.offeredRate, 0), fmt(r.pressSpanMs, 0), fmt(r.throughput, 0), fmt(r.drainRate, 0),
        fmt(as.p99), fmt(fd.p50), fmt(fd.p99), r.missing, fmt(r.platformCpuMsPerAlarm), ...(distributed ? [fmt(r.servicesCpuMsPerAlarm)] : []),
        fmt(r.simulatorCpuMsPerAlarm), fmt(r.eventLoopLagMaxMs), fmt(r.othersCores), r.loadavg1.toFixed(2)];
    }),
  ));
  out.push('* not in the headline figures (warm-up, rate sweep, step-up). alarms/s = alarms ÷ (first press → last first dispatch); drain/s = completions per');
  out.push('  second between the 10th and 90th percentile completion (little meaning when all press at once and alarms complete in a few large batches).');
  out.push('  cpu = process CPU time during the round (incl. the polling that waits for it and the idle polling of consumers) ÷ alarms;');
  out.push('  others cores = CPU used meanwhile by every process not counted here (other people\'s work; 0 = the machine was ours)');
  const curve = run.rounds.filter((r) => r.kind === 'sweep' || r.kind === 'step' || r.kind === 'paced').sort((a, b) => a.offeredRate - b.offeredRate);
  if (curve.some((r) => r.kind !== 'paced')) {
    out.push('');
    out.push('Rate curve: one round at each rate, paced rounds included (ms after the device ts)');
    out.push(table(['round', 'alarms', 'offered/s', 'alarms/s', 'drain/s', 'kept pace', 'stored p50', 'stored p99', 'dispatch p50', 'dispatch p90', 'dispatch p99', 'dispatch max', 'missing', 'platform cpu ms/alarm', 'loop lag max ms'],
      curve.map((r) => {
        const fd = summarize(r.samples.map((x) => x.firstDispatch));
        const as = summarize(r.samples.map((x) => x.alertStored));
        return [r.name, r.alarms, fmt(r.offeredRate, 0), fmt(r.throughput, 0), fmt(r.drainRate, 0), keptPace(r) ? 'yes' : 'no', fmt(as.p50), fmt(as.p99), fmt(fd.p50), fmt(fd.p90), fmt(fd.p99), fmt(fd.max),
          r.missing, fmt(r.platformCpuMsPerAlarm), fmt(r.eventLoopLagMaxMs)];
      })));
    out.push('kept pace = none missing and drain/s ≥ 95% of the offered rate');
  }
  out.push(`maximum sustained rate: ${f.sustained ? `${fmt(f.sustained.rate, 0)} alarms/s offered kept pace (round ${f.sustained.round}: drain ${fmt(f.sustained.drain, 0)}/s, p99 ${fmt(f.sustained.p99)} ms)` : 'no rate kept pace'}` +
    `${f.firstShort ? `; ${fmt(f.firstShort.rate, 0)}/s did not (round ${f.firstShort.round}: drain ${fmt(f.firstShort.drain, 0)}/s${f.firstShort.missing ? `, ${f.firstShort.missing} missing` : ''})` : ''}` +
    `; all ${s.devices} at once: ${fmt(f.maxThroughput.p50, 0)} alarms/s (median of ${f.maxThroughput.n})`);
  if (distributed) out.push(...renderCpu(run));
  out.push('');
  const mem = Object.keys(run.memory.end ?? run.memory.seeded ?? {});
  out.push(`memory (RSS at start / after seeding / end, peak): ${mem.map((label) => `${label} ${MB(run.memory.started?.[label]?.rss)} / ${MB(run.memory.seeded?.[label]?.rss)} / ${MB(run.memory.end?.[label]?.rss)}, peak ${MB(run.memory.end?.[label]?.peakRss)}`).join('; ')}`);
  const le = (k: string) => run.histogram[k];
  if (le('+Inf') !== undefined) {
    out.push(`platform's own histogram linan_device_to_first_dispatch_seconds (this run's rounds incl. warm-up): ${le('+Inf')} observations, ` +
      `${le('0.025')} ≤ 25 ms, ${le('0.05')} ≤ 50 ms, ${le('0.1')} ≤ 100 ms, ${le('0.25')} ≤ 250 ms`);
  }
  for (const p of run.profiles) out.push(...renderProfile(p.label, p.summary));
  out.push(...run.sqlLines);
  return out;
}

/** CPU per process: where the machine's two cores went, per alarm and in cores, for the paced and the all-at-once rounds. */
function renderCpu(run: TargetRun): string[] {
  const paced = run.rounds.filter((r) => r.counted && r.mode === 'paced');
  const maxed = run.rounds.filter((r) => r.counted && r.mode === 'max');
  const labels = [...new Set(run.rounds.flatMap((r) => Object.keys(r.cpuByProcess)))];
  const per = (rs: RoundResult[], label: string, k: 'msPerAlarm' | 'cores' | 'syscallsPerAlarm') => mean(rs.map((r) => r.cpuByProcess[label]?.[k] ?? 0));
  const kindOf = (label: string) => run.rounds.map((r) => r.cpuByProcess[label]?.kind).find(Boolean) ?? '';
  /** The mean over rounds of one of the per-app figures (NaN for a process that is not an app). */
  const ofApp = (rs: RoundResult[], k: 'gcMsPerAlarmByApp' | 'majorGcMsPerAlarmByApp' | 'kafkaFetchesPerAlarmByApp' | 'kafkaProducesPerAlarmByApp', label: string) =>
    mean(rs.map((r) => r[k]?.[label] ?? NaN));
  const gc = (rs: RoundResult[], label: string) => {
    const all = ofApp(rs, 'gcMsPerAlarmByApp', label);
    return Number.isFinite(all) ? `${fmt(all)} (${fmt(ofApp(rs, 'majorGcMsPerAlarmByApp', label))})` : '-';
  };
  const kafka = (rs: RoundResult[], label: string) => {
    const [f, p] = [ofApp(rs, 'kafkaFetchesPerAlarmByApp', label), ofApp(rs, 'kafkaProducesPerAlarmByApp', label)];
    return Number.isFinite(f) && f + p > 0 ? `${fmt(f, 2)} + ${fmt(p, 2)}` : '-';
  };
  const rows = labels.map((l) => [l, kindOf(l), fmt(per(paced, l, 'msPerAlarm')), fmt(per(paced, l, 'cores')), fmt(per(maxed, l, 'msPerAlarm')), fmt(per(maxed, l, 'cores')),
    fmt(per(paced, l, 'syscallsPerAlarm'), 1), kafka(paced, l), gc(paced, l), fmt(maxOf(paced.map((r) => r.lagByApp[l] ?? NaN)))]);
  const total = (kinds: string[], rs: RoundResult[], k: 'msPerAlarm' | 'cores' | 'syscallsPerAlarm') => labels.filter((l) => kinds.includes(kindOf(l))).reduce((a, l) => a + per(rs, l, k), 0);
  for (const [name, kinds] of [['= platform (the apps)', ['platform']], ['= platform + services', ['platform', 'service']]] as const) {
    rows.push([name, '', fmt(total([...kinds], paced, 'msPerAlarm')), fmt(total([...kinds], paced, 'cores')), fmt(total([...kinds], maxed, 'msPerAlarm')), fmt(total([...kinds], maxed, 'cores')),
      fmt(total([...kinds], paced, 'syscallsPerAlarm'), 1), '', '', '']);
  }
  return ['', `CPU by process (from /proc; mean over the counted rounds, press → all dispatched; gc = the app's garbage collection on its main thread, from its /metrics, part of its CPU, and in brackets the full collections alone; syscalls = system calls that read or write, from /proc/<pid>/io; Kafka = the app's fetch + produce requests, from its /metrics)`,
    table(['process', 'kind', `paced ms/alarm`, 'paced cores', 'at once ms/alarm', 'at once cores', 'paced syscalls/alarm', 'paced Kafka fetch + produce /alarm', 'paced gc (major) ms/alarm', 'paced loop lag max ms'], rows, [0, 1])];
}

function renderProfile(label: string, profile: ProfileSummary): string[] {
  const busy = profile.totalMs - profile.idleMs;
  return ['',
    `CPU profile of ${label} during one paced round, first press → all dispatched (BENCH_PROFILE=1; profiler overhead included): ${fmt(profile.totalMs / 1000)} s wall, ` +
      `${fmt(busy / 1000)} s busy on the main thread (${fmt((100 * busy) / profile.totalMs, 0)}%)`,
    table(['self time by area', 'ms', 'share'], profile.byArea.map((a) => [a.area, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]),
    '',
    table(['heaviest functions (self time)', 'ms', 'share'], profile.topFunctions.map((a) => [a.fn, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]),
    '',
    table(['project code, inclusive time', 'ms', 'share'], profile.topProjectInclusive.map((a) => [a.fn, fmt(a.ms, 0), `${fmt(100 * a.share, 1)}%`]), [0]),
    ...(profile.allocations ? renderAllocations(label, profile.allocations) : []),
  ];
}

function renderAllocations(label: string, a: AllocationSummary): string[] {
  const mib = (b: number) => fmt(b / 2 ** 20, 1);
  const pct = (x: number) => `${fmt(100 * x, 1)}%`;
  return ['',
    `Allocations of ${label} in the same window (V8's sampling heap profiler, collected objects included): ${mib(a.totalBytes)} MiB`,
    table(['allocated by area', 'MiB', 'share'], a.byArea.map((x) => [x.area, mib(x.bytes), pct(x.share)]), [0]),
    '',
    table(['allocating functions (self)', 'MiB', 'share'], a.topFunctions.map((x) => [x.fn, mib(x.bytes), pct(x.share)]), [0]),
    '',
    table(['project code, inclusive', 'MiB', 'share'], a.topProjectInclusive.map((x) => [x.fn, mib(x.bytes), pct(x.share)]), [0]),
  ];
}
