/**
 * Every setting of `npm run bench`, read once from the environment (through readEnvironment, the project's one
 * reader of it) and checked as a whole: a bad value stops the bench with every bad key named.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { readEnvironment, type RawEnv } from '@linan/platform';
import { passedThrough, REPO_ROOT } from './platform-process';

export const BENCH_MODES = ['embedded', 'distributed', 'both'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

const count = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
/** "25,50,100" → [25, 50, 100]; empty → []. */
const rates = (def: string) => z.string().default(def).transform((v, ctx) => {
  const list = v.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
  if (list.some((x) => !Number.isFinite(x) || x <= 0)) ctx.addIssue({ code: 'custom', message: `must be a comma-separated list of numbers > 0 (got "${v}")` });
  return list;
});
const flag = (def: '0' | '1') => z.enum(['0', '1']).default(def).transform((v) => v === '1');

const schema = z.object({
  BENCH_MODE: z.enum(BENCH_MODES).default('both'),
  BENCH_OUT: z.string().min(1).default(join(REPO_ROOT, 'bench-results')),
  BENCH_PROFILE: flag('0'),
  BENCH_PROFILE_ROUND: z.enum(['first', 'last']).default('first'),
  BENCH_BASELINE: flag('1'),
  BENCH_BASELINE_ONLY: z.string().min(1).default('c-1k,c-max'),
  BENCH_BASELINE_DIR: z.string().min(1).default(join(REPO_ROOT, '..', 'shared', 'bench')),
  BENCH_BASELINE_TIMEOUT_S: count(240, 10),
  BENCH_COMMUNITIES: count(10, 1),
  BENCH_AIDES: count(3, 1),
  // embedded run
  BENCH_DEVICES: count(200, 1),
  BENCH_RATE: count(200, 1),
  BENCH_ROUNDS: count(5),
  BENCH_WARMUP: count(1),
  BENCH_MAX_ROUNDS: count(2),
  BENCH_SWEEP: rates('25,50,100'),
  // distributed run
  BENCH_DIST_DEVICES: count(1000, 1),
  BENCH_DIST_RATE: count(1000, 1),
  BENCH_DIST_ROUNDS: count(3),
  BENCH_DIST_WARMUP: count(1),
  BENCH_DIST_MAX_ROUNDS: count(2),
  BENCH_DIST_SWEEP: rates(''),
  BENCH_DIST_STEPS: rates('50,75,100,125,150,200,300,500,1000'),
  BENCH_DIST_STEP_SECONDS: count(5, 1),
  BENCH_DIST_GATEWAYS: rates('1,2').transform((l) => l.map(Math.floor)),
  /** 1: after the platform, the naive chain (scripts/naive-chain.ts) on the same services and devices, the same rounds. */
  BENCH_DIST_NAIVE: flag('1'),
  // platform settings of the distributed apps (the bench's choice of deployment; see docs/performance.md)
  BENCH_DIST_KAFKA_MAX_WAIT_MS: count(5, 1),
  BENCH_DIST_GATEWAY_CONNECTIONS: count(16, 1),
  BENCH_DIST_POOL_SIZE: count(10, 1),
  /** Node options for every app process ("--max-semi-space-size=16 …"): to measure a runtime setting. */
  BENCH_DIST_NODE_ARGS: z.string().default('').transform((v) => v.split(/\s+/).filter(Boolean)),
});

/** One way to load the platform: how many devices, and the rounds to press them in. */
export interface Scenario {
  devices: number;
  /** The headline rate (alarms/s) and the goal at it. */
  rate: number;
  goalP99Ms: number;
  rounds: number;
  warmup: number;
  maxRounds: number;
  /** One round at each of these rates, below the headline rate (latency curve). */
  sweep: number[];
  /**
   * The step-up that finds the maximum sustained rate: one round at each of these rates, in increasing order, each
   * pressing for stepSeconds (min(devices, rate × stepSeconds) alarms); it stops after two steps in a row that did
   * not keep pace.
   */
  steps: number[];
  stepSeconds: number;
  communities: number;
  aidesPerCommunity: number;
}

export interface BenchConfig {
  mode: BenchMode;
  outDir: string;
  profile: boolean;
  /** Which paced round is profiled: the first counted one, or the last (what builds up over a run shows there). */
  profileRound: 'first' | 'last';
  baseline: boolean;
  baselineOnly: string;
  baselineDir: string;
  baselineTimeoutS: number;
  embedded: Scenario;
  distributed: Scenario & {
    /** Gateway replica counts to measure in turn, on the same services and seeded data (each adds replicas). */
    gateways: number[];
    kafkaMaxWaitMs: number;
    gatewayConnections: number;
    poolSize: number;
    nodeArgs: string[];
    /** Measure the naive chain too, after the platform. */
    naive: boolean;
  };
  /** Platform settings passed through from our environment. */
  platformEnv: Record<string, string>;
  /** What the bench's own children (the baseline harness) inherit. */
  env: RawEnv;
  settleTimeoutMs: number;
  pauseMs: number;
}

export class BenchConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid bench settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function loadBenchConfig(env: RawEnv = readEnvironment()): BenchConfig {
  const blanked = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
  // an empty list is a choice ("skip the sweep"), not "use the default"
  for (const k of ['BENCH_SWEEP', 'BENCH_DIST_SWEEP', 'BENCH_DIST_STEPS'] as const) if (env[k] === '') blanked[k] = '';
  const r = schema.superRefine((v, ctx) => {
    const g = v.BENCH_DIST_GATEWAYS;
    if (!g.length || g.some((x, i) => x < 1 || (i > 0 && x <= g[i - 1]))) {
      ctx.addIssue({ code: 'custom', path: ['BENCH_DIST_GATEWAYS'], message: `must be increasing replica counts ≥ 1, e.g. 1,2 (got "${env.BENCH_DIST_GATEWAYS}")` });
    }
  }).safeParse(blanked);
  if (!r.success) throw new BenchConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = r.data;
  const common = { communities: e.BENCH_COMMUNITIES, aidesPerCommunity: e.BENCH_AIDES };
  return Object.freeze({
    mode: e.BENCH_MODE,
    outDir: resolve(e.BENCH_OUT),
    profile: e.BENCH_PROFILE,
    profileRound: e.BENCH_PROFILE_ROUND,
    baseline: e.BENCH_BASELINE,
    baselineOnly: e.BENCH_BASELINE_ONLY,
    baselineDir: resolve(e.BENCH_BASELINE_DIR),
    baselineTimeoutS: e.BENCH_BASELINE_TIMEOUT_S,
    embedded: {
      devices: e.BENCH_DEVICES, rate: e.BENCH_RATE, goalP99Ms: 50, rounds: e.BENCH_ROUNDS, warmup: e.BENCH_WARMUP,
      maxRounds: e.BENCH_MAX_ROUNDS, sweep: e.BENCH_SWEEP, steps: [], stepSeconds: 5, ...common,
    },
    distributed: {
      devices: e.BENCH_DIST_DEVICES, rate: e.BENCH_DIST_RATE, goalP99Ms: 100, rounds: e.BENCH_DIST_ROUNDS, warmup: e.BENCH_DIST_WARMUP,
      maxRounds: e.BENCH_DIST_MAX_ROUNDS, sweep: e.BENCH_DIST_SWEEP, steps: [...e.BENCH_DIST_STEPS].sort((a, b) => a - b),
      stepSeconds: e.BENCH_DIST_STEP_SECONDS, ...common,
      gateways: e.BENCH_DIST_GATEWAYS, kafkaMaxWaitMs: e.BENCH_DIST_KAFKA_MAX_WAIT_MS,
      gatewayConnections: e.BENCH_DIST_GATEWAY_CONNECTIONS, poolSize: e.BENCH_DIST_POOL_SIZE, nodeArgs: e.BENCH_DIST_NODE_ARGS,
      naive: e.BENCH_DIST_NAIVE,
    },
    platformEnv: passedThrough(env),
    env,
    settleTimeoutMs: 60_000,
    pauseMs: 1000,
  });
}
