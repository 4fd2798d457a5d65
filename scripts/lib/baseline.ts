/** The naive MQTT → Kafka baseline of the shared harness, run by `npm run bench` in the same run, and machine facts. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { freePort } from './platform-process';
import type { Summary } from './stats';

export interface BaselineOptions {
  baseline: boolean;
  baselineDir: string;
  baselineOnly: string;
  baselineTimeoutS: number;
  outDir: string;
  repoRoot: string;
  /** The environment the harness inherits (ours, as readEnvironment gives it). */
  env: Record<string, string | undefined>;
}

export interface BaselineRow {
  key: string;
  name: string;
  n: number;
  lost?: number;
  rate: number;
  offered: number | null;
  lat?: Summary;
  gateways?: { rssMB: number }[];
  notes?: string;
}

export interface BaselineResult {
  status: 'ok' | 'skipped' | 'failed';
  reason?: string;
  command?: string;
  rows: BaselineRow[];
  resultsFile?: string;
  seconds?: number;
}

let baselineChild: ChildProcess | null = null;
process.on('exit', () => {
  if (baselineChild?.pid && baselineChild.exitCode === null) {
    try {
      process.kill(-baselineChild.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
});

export async function runBaseline(runId: string, CFG: BaselineOptions, log: (m: string) => void): Promise<BaselineResult> {
  if (!CFG.baseline) return { status: 'skipped', reason: 'BENCH_BASELINE=0', rows: [] };
  const script = join(CFG.baselineDir, 'run-baseline.sh');
  if (!existsSync(script)) return { status: 'skipped', reason: `${script} not found (set BENCH_BASELINE_DIR)`, rows: [] };
  const resultsDir = join(CFG.outDir, 'baseline');
  mkdirSync(resultsDir, { recursive: true });
  const [mq, pg, rd] = [await freePort(), await freePort(), await freePort()];
  const env = { ONLY: CFG.baselineOnly, RESULTS_DIR: resultsDir, RUN_ID: runId, MQTT_PORT: String(mq), PG_PORT: String(pg), REDIS_PORT: String(rd) };
  const command = `ONLY=${CFG.baselineOnly} bash ${script}`;
  log(`baseline: ${command}  (ports ${mq}/${pg}/${rd}; takes a minute or two)`);
  const t0 = Date.now();
  const child = spawn('bash', [script], { cwd: CFG.baselineDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...CFG.env, ...env } });
  baselineChild = child;
  const prefix = (d: Buffer) => String(d).split('\n').filter((l) => l.trim()).forEach((l) => process.stderr.write(`  [baseline] ${l}\n`));
  child.stdout!.on('data', prefix);
  child.stderr!.on('data', prefix);
  const code = await new Promise<number | null>((res) => {
    const timer = setTimeout(() => {
      log(`baseline: no result after ${CFG.baselineTimeoutS} s; stopping it`);
      try {
        process.kill(-child.pid!, 'SIGTERM');
        setTimeout(() => child.exitCode === null && process.kill(-child.pid!, 'SIGKILL'), 5000).unref();
      } catch {
        /* gone */
      }
    }, CFG.baselineTimeoutS * 1000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  baselineChild = null;
  const seconds = Math.round((Date.now() - t0) / 1000);
  const file = join(resultsDir, `run-${runId}.json`);
  if (code !== 0 || !existsSync(file)) return { status: 'failed', reason: `exit code ${code}`, command, rows: [], seconds };
  const json = JSON.parse(readFileSync(file, 'utf8')) as { rows: BaselineRow[] };
  return { status: 'ok', command, rows: json.rows, resultsFile: relative(CFG.repoRoot, file), seconds };
}


export function machine() {
  const cpuinfo = (() => {
    try {
      return readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      return '';
    }
  })();
  return {
    nproc: cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: (() => {
      try {
        return readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
      } catch {
        return '?';
      }
    })(),
  };
}
