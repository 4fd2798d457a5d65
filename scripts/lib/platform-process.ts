import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freePort } from '../../libs/testing/src/services/free-port';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readEnvironment } from '@linan/platform';
import { cpuSecondsOf, listProcesses, memoryOf } from './proc-stats';

/** The repository root: the nearest folder above this file with the project's package.json (works from dist/ and from source). */
export const REPO_ROOT = ((): string => {
  for (let d = __dirname; ; d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && /"name":\s*"linan"/.test(readFileSync(pkg, 'utf8'))) return d;
    if (dirname(d) === d) return resolve(__dirname, '..', '..', '..');
  }
})();
export const BUILT_MAIN = join(REPO_ROOT, 'dist', 'apps', 'embedded', 'src', 'main.js');
/** The entry point of one app of the distributed mode (`npm run build` writes them). */
export const appMain = (app: string) => join(REPO_ROOT, 'dist', 'apps', app, 'main.js');

/**
 * Platform settings a user may pass through to the platform the scripts start (the rest of our environment is not
 * inherited). Settings of the other mode are harmless: each mode reads only its own.
 */
export const PLATFORM_PASS_THROUGH = [
  'EMBEDDED_DB_THREAD', 'ESCALATION_ACK_TIMEOUT_S', 'BUS_PARTITIONS', 'BUS_POLL_MS', 'TIMER_POLL_MS', 'ESCALATION_MAX_ROUNDS',
  'CONSUMER_MAX_ATTEMPTS', 'CONSUMER_RETRY_BASE_MS', 'JWT_SECRET', 'OUTBOX_SWEEP_MS', 'MQTT_SESSION_EXPIRY_S', 'KAFKA_LINGER_MS', 'KAFKA_FETCH_GATHER_MS',
  'KAFKA_REPLAY_MAX_AGE_S',
] as const;

/** The pass-through settings present in an environment. */
export const passedThrough = (env: Record<string, string | undefined>): Record<string, string> =>
  Object.fromEntries(PLATFORM_PASS_THROUGH.filter((k) => env[k]).map((k) => [k, env[k]!]));

export { freePort };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A built Node entry point (the embedded platform, or one app) running as a child process. */
export interface NodeProcess {
  label: string;
  pid: number;
  httpUrl: string;
  startupMs: number;
  output(): string;
  /** Exit code or signal once the process has ended, else null. */
  exit(): string | null;
  /** Resident set size and its peak, in bytes, from /proc/<pid>/status. */
  memory(): { rss: number; peakRss: number } | null;
  /** User + system CPU seconds of the process, from /proc/<pid>/stat. */
  cpuSeconds(): number | null;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface NodeProcessOptions {
  label: string;
  main: string;
  env: Record<string, string>;
  /** Where GET /health must answer 200. */
  httpUrl: string;
  /** Extra readiness check on the process's output (e.g. the embedded broker's line). */
  ready?: (output: string) => boolean;
  healthTimeoutMs?: number;
  /** Extra node options for the child (e.g. --require a profiler hook). */
  nodeArgs?: string[];
  /** Arguments after the entry point. */
  args?: string[];
}

export interface PlatformProcess extends NodeProcess {
  mqttUrl: string;
  consoleUrl: string;
  dataDir: string;
  adminPassword: string;
  /** Environment given to the child (secrets left out). */
  env: Record<string, string>;
}

export interface StartOptions {
  env?: Record<string, string>;
  /** Keep the data folder after stop (default: removed). */
  keepData?: boolean;
  healthTimeoutMs?: number;
  /** Extra node options for the child (e.g. --require a profiler hook). */
  nodeArgs?: string[];
}

/** Running children, temporary folders not yet removed, and what else must be stopped if we are interrupted. */
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const shutdownTasks = new Set<() => Promise<unknown>>();
let exitHookInstalled = false;

/**
 * Registers a cleanup (services the bench started) that an interrupt (Ctrl-C, SIGTERM) runs before exiting.
 * Returns a function that unregisters it, for when the normal path has cleaned up itself.
 */
export function onInterrupt(task: () => Promise<unknown>): () => void {
  installExitHook();
  shutdownTasks.add(task);
  return () => shutdownTasks.delete(task);
}

/** Whatever happens to this process, its children die with it and their temporary data goes. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // services started by helpers (mosquitto, the Kafka mock) are our children too
    for (const p of listProcesses()) {
      if (p.ppid !== process.pid) continue;
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
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
      const cleanups = Promise.all(stopped).then(() => Promise.allSettled([...shutdownTasks].map((t) => t())));
      void Promise.race([cleanups, sleep(10_000)]).then(() => process.exit(130));
    });
  }
}

/** Starts a built entry point as a child process and waits until its /health answers 200 (and `ready` holds). */
export async function startNodeProcess(o: NodeProcessOptions): Promise<NodeProcess> {
  if (!existsSync(o.main)) throw new Error(`${o.main} is missing: run "npm run build" first`);
  installExitHook();
  const t0 = Date.now();
  let out = '';
  const host = readEnvironment();
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), o.main, ...(o.args ?? [])], {
    cwd: REPO_ROOT,
    env: { PATH: host.PATH ?? '/usr/bin:/bin', HOME: host.HOME ?? '/tmp', TZ: host.TZ ?? '', ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
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
  const timeoutMs = o.healthTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${o.label} exited during startup (code ${proc.exitCode}):\n${out.trim()}`);
    const ok = await fetch(`${o.httpUrl}/health`).then((r) => r.ok, () => false);
    if (ok && (o.ready?.(out) ?? true)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${o.label} was not healthy within ${timeoutMs} ms:\n${out.trim()}`);
    }
    await sleep(100);
  }
  const pid = proc.pid!;
  let stopped = false;
  return {
    label: o.label, pid, httpUrl: o.httpUrl,
    startupMs: Date.now() - t0,
    output: () => out,
    exit: () => (proc.exitCode !== null ? `code ${proc.exitCode}` : proc.signalCode ? `signal ${proc.signalCode}` : null),
    memory: () => memoryOf(pid),
    cpuSeconds: () => cpuSecondsOf(pid),
    async stop(graceMs = 5000) {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** Starts the built embedded platform (`npm run build`) as its own process on free ports and a fresh data folder. */
export async function startPlatformProcess(options: StartOptions = {}): Promise<PlatformProcess> {
  installExitHook();
  const dataDir = mkdtempSync(join(tmpdir(), 'linan-run-'));
  if (!options.keepData) tempDirs.add(dataDir);
  const adminPassword = options.env?.ADMIN_PASSWORD ?? randomBytes(9).toString('base64url');
  const passed = passedThrough(readEnvironment());
  for (let attempt = 1; ; attempt++) {
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...passed, ...options.env,
      PORT: String(httpPort), MQTT_PORT: String(mqttPort), DATA_DIR: dataDir, ADMIN_PASSWORD: adminPassword,
    };
    try {
      const p = await startNodeProcess({
        label: 'embedded platform', main: BUILT_MAIN, env, httpUrl: `http://127.0.0.1:${httpPort}`,
        ready: (out) => /MQTT broker/.test(out), healthTimeoutMs: options.healthTimeoutMs, nodeArgs: options.nodeArgs,
      });
      const { ADMIN_PASSWORD: _secret, ...shownEnv } = env;
      return {
        ...p,
        dataDir, adminPassword,
        mqttUrl: `mqtt://127.0.0.1:${mqttPort}`,
        consoleUrl: (/Console\s+(\S+)/.exec(p.output())?.[1]) ?? `${p.httpUrl}/`,
        env: shownEnv,
        async stop(graceMs?: number) {
          await p.stop(graceMs);
          if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
          tempDirs.delete(dataDir);
        },
      };
    } catch (e) {
      const retry = attempt < 3 && e instanceof Error && /already in use|EADDRINUSE/.test(e.message);
      if (!retry) {
        if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
        throw e;
      }
    }
  }
}
