import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The repository root: the nearest folder above this file with the project's package.json (works from dist/ and from source). */
export const REPO_ROOT = ((): string => {
  for (let d = __dirname; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && /"name":\s*"linan"/.test(readFileSync(pkg, 'utf8'))) return d;
    if (dirname(d) === d) return resolve(__dirname, '..', '..', '..');
  }
})();
export const BUILT_MAIN = join(REPO_ROOT, 'dist', 'apps', 'embedded', 'src', 'main.js');

/** Platform settings a user may pass through to the child (the rest of our environment is not inherited). */
const PASS_THROUGH = ['EMBEDDED_DB_THREAD', 'ESCALATION_ACK_TIMEOUT_S', 'BUS_PARTITIONS', 'BUS_POLL_MS', 'TIMER_POLL_MS', 'ESCALATION_MAX_ROUNDS', 'CONSUMER_MAX_ATTEMPTS', 'CONSUMER_RETRY_BASE_MS', 'JWT_SECRET'];

/** A TCP port nobody listens on right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => res(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface PlatformProcess {
  pid: number;
  httpUrl: string;
  mqttUrl: string;
  consoleUrl: string;
  dataDir: string;
  adminPassword: string;
  /** Environment given to the child (secrets left out). */
  env: Record<string, string>;
  startupMs: number;
  output(): string;
  /** Exit code or signal once the process has ended, else null. */
  exit(): string | null;
  /** Resident set size and its peak, in bytes, from /proc/<pid>/status. */
  memory(): { rss: number; peakRss: number } | null;
  /** User + system CPU seconds of the process, from /proc/<pid>/stat. */
  cpuSeconds(): number | null;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Keep the data folder after stop (default: removed). */
  keepData?: boolean;
  healthTimeoutMs?: number;
  /** Extra node options for the child (e.g. --require a profiler hook). */
  nodeArgs?: string[];
}

/** Running children, and temporary data folders not yet removed. */
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

/** Whatever happens to this process, the platform children die with it and their temporary data goes. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\n${sig}: stopping the platform…\n`);
      const stopped = [...live].map((c) => new Promise<void>((r) => {
        if (c.exitCode !== null || c.signalCode !== null) return r();
        c.once('exit', () => r());
        c.kill('SIGTERM');
      }));
      void Promise.race([Promise.all(stopped), sleep(5000)]).then(() => process.exit(130));
    });
  }
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

/** Starts the built embedded platform (`npm run build`) as its own process on free ports and a fresh data folder. */
export async function startPlatformProcess(options: StartOptions = {}): Promise<PlatformProcess> {
  if (!existsSync(BUILT_MAIN)) throw new Error(`${BUILT_MAIN} is missing: run "npm run build" first`);
  installExitHook();
  const dataDir = mkdtempSync(join(tmpdir(), 'linan-run-'));
  const adminPassword = options.env?.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
  const passed = Object.fromEntries(PASS_THROUGH.filter((k) => process.env[k]).map((k) => [k, process.env[k]!]));
  for (let attempt = 1; ; attempt++) {
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...passed, ...options.env,
      PORT: String(httpPort), MQTT_PORT: String(mqttPort), DATA_DIR: dataDir, ADMIN_PASSWORD: adminPassword,
    };
    try {
      return await spawnOnce(env, dataDir, adminPassword, options);
    } catch (e) {
      const retry = attempt < 3 && e instanceof Error && /already in use|EADDRINUSE/.test(e.message);
      if (!retry) {
        if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
  }
}

async function spawnOnce(env: Record<string, string>, dataDir: string, adminPassword: string, options: StartOptions): Promise<PlatformProcess> {
  const t0 = Date.now();
  let out = '';
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), BUILT_MAIN], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', TZ: process.env.TZ ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  if (!options.keepData) tempDirs.add(dataDir);
  const keep = (d: Buffer) => {
    out += String(d);
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => proc.once('exit', () => {
    live.delete(proc);
    r();
  }));
  const httpUrl = `http://127.0.0.1:${env.PORT}`;
  const deadline = Date.now() + (options.healthTimeoutMs ?? 60_000);
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`the platform exited during startup (code ${proc.exitCode}):\n${out.trim()}`);
    const ok = await fetch(`${httpUrl}/health`).then((r) => r.ok, () => false);
    if (ok && /MQTT broker/.test(out)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the platform was not healthy within ${options.healthTimeoutMs ?? 60_000} ms:\n${out.trim()}`);
    }
    await sleep(100);
  }
  const pid = proc.pid!;
  let stopped = false;
  const { ADMIN_PASSWORD: _secret, ...shownEnv } = env;
  return {
    pid, httpUrl, dataDir, adminPassword,
    mqttUrl: `mqtt://127.0.0.1:${env.MQTT_PORT}`,
    consoleUrl: (/Console\s+(\S+)/.exec(out)?.[1]) ?? `${httpUrl}/`,
    env: shownEnv,
    startupMs: Date.now() - t0,
    output: () => out,
    exit: () => (proc.exitCode !== null ? `code ${proc.exitCode}` : proc.signalCode ? `signal ${proc.signalCode}` : null),
    memory() {
      const s = readProc(pid, 'status');
      if (!s) return null;
      const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN) * 1024;
      return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
    },
    cpuSeconds() {
      const st = readProc(pid, 'stat');
      if (!st) return null;
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
      tempDirs.delete(dataDir);
    },
  };
}
