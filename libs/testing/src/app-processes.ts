import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvironment, type AppName } from '@linan/platform';
import { freePort, REPO_ROOT } from './child-platform';
import { sumMetric } from './services/metrics-text';

/** Where `npm run build` puts an app's entry point, as the deployment guide runs it. */
export const builtAppMain = (app: AppName): string => join(REPO_ROOT, 'dist', 'apps', app, 'main.js');

export interface AppProcessSpec {
  app: AppName;
  /** Tells replicas apart in failure messages (default: the app's name). */
  name?: string;
  /** On top of the shared environment: MQTT_CLIENT_ID for a gateway replica, a setting under test. */
  env?: Record<string, string>;
}

export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcess {
  readonly app: AppName;
  readonly name: string;
  readonly port: number;
  readonly httpUrl: string;
  /** The current process's id (a restart starts a new one). */
  pid(): number | undefined;
  running(): boolean;
  /** Everything the process wrote, stdout and stderr interleaved (the last 200 kB). */
  output(): string;
  /** Sends the signal (SIGKILL: a crash) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<AppExit>;
  /** SIGTERM, SIGKILL after 10 s: a graceful stop. */
  stop(): Promise<AppExit>;
  /** Starts it again with the same name, environment and port, and waits until /health answers 200. */
  restart(): Promise<void>;
  /** The sum of a Prometheus series on the process's /metrics over the lines whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Processes still running, so they never outlive the test process whatever ends it. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The environment of an app's process: only what is given (nothing inherited but PATH), the app alone in APPS. */
function processEnv(env: Record<string, string | undefined>, app: AppName, port: number): Record<string, string> {
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) own[k] = v;
  return { PATH: readEnvironment().PATH ?? '/usr/bin:/bin', HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...own, APPS: app, PORT: String(port) };
}

async function healthStatus(httpUrl: string): Promise<number> {
  try {
    const r = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

/**
 * Runs one app of the built platform (`npm run build`) as its own process, `node dist/apps/<app>/main.js`, with the
 * given environment (the services' addresses) on a free port of 127.0.0.1, and waits until its /health is 200:
 * every service it uses answers. Fails with the process's output if it exits or is not healthy in time.
 */
export async function startAppProcess(env: Record<string, string | undefined>, spec: AppProcessSpec, healthTimeoutMs = 60_000): Promise<AppProcess> {
  const main = builtAppMain(spec.app);
  if (!existsSync(main)) throw new Error(`${main} is missing: run "npm run build" first`);
  installExitHook();
  const name = spec.name ?? spec.app;
  const port = await freePort();
  const httpUrl = `http://127.0.0.1:${port}`;
  const childEnv = processEnv({ ...env, ...spec.env }, spec.app, port);
  let out = '';
  let proc: ChildProcess | null = null;
  let exited: Promise<AppExit> = Promise.resolve({ code: null, signal: null });

  const launch = async () => {
    const c = spawn(process.execPath, [main], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    proc = c;
    live.add(c);
    const keep = (d: Buffer) => {
      out += String(d);
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    exited = new Promise<AppExit>((resolve) => c.once('exit', (code, signal) => {
      live.delete(c);
      resolve({ code, signal });
    }));
    c.once('error', (e) => (out += `\nspawn failed: ${e.message}\n`));
    const deadline = Date.now() + healthTimeoutMs;
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`${name} exited during start-up (code ${c.exitCode}, signal ${c.signalCode}):\n${out.slice(-4_000)}`);
      }
      if ((await healthStatus(httpUrl)) === 200) return;
      if (Date.now() > deadline) {
        c.kill('SIGKILL');
        throw new Error(`${name} was not healthy on ${httpUrl}/health within ${healthTimeoutMs} ms:\n${out.slice(-4_000)}`);
      }
      await sleep(100);
    }
  };

  const running = () => proc !== null && proc.exitCode === null && proc.signalCode === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<AppExit> => {
    if (running()) proc!.kill(signal);
    return exited;
  };

  await launch();
  return {
    app: spec.app, name, port, httpUrl,
    pid: () => proc?.pid,
    running,
    output: () => out,
    kill,
    stop: async () => {
      if (!running()) return exited;
      const p = proc!;
      const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
      const how = await kill('SIGTERM');
      clearTimeout(timer);
      return how;
    },
    restart: async () => {
      await kill('SIGKILL');
      out += `\n--- ${name} restarted ---\n`;
      await launch();
    },
    metric: async (metricName, labels) => {
      const r = await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
      return sumMetric(await r.text(), metricName, labels);
    },
  };
}

/** Starts several apps at once (as a deployment would); if one cannot start, the others are stopped again. */
export async function startAppProcesses(env: Record<string, string | undefined>, specs: AppProcessSpec[], healthTimeoutMs = 60_000): Promise<AppProcess[]> {
  const started = await Promise.allSettled(specs.map((s) => startAppProcess(env, s, healthTimeoutMs)));
  const failed = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.kill() : undefined)));
    throw failed[0].reason;
  }
  return started.map((s) => (s as PromiseFulfilledResult<AppProcess>).value);
}

export interface AppRun extends AppExit {
  stdout: string;
  stderr: string;
  /** How long the process ran, in ms. */
  ms: number;
}

/**
 * Runs an app that is expected to stop by itself (a boot failure) and returns how it ended and what it wrote.
 * Killed, with signal SIGKILL in the result, if it is still running after `timeoutMs`.
 */
export function runAppUntilExit(env: Record<string, string | undefined>, app: AppName, timeoutMs = 30_000): Promise<AppRun> {
  const main = builtAppMain(app);
  if (!existsSync(main)) return Promise.reject(new Error(`${main} is missing: run "npm run build" first`));
  installExitHook();
  return freePort().then((port) => new Promise<AppRun>((resolve, reject) => {
    const t0 = Date.now();
    const c = spawn(process.execPath, [main], { cwd: REPO_ROOT, env: processEnv(env, app, port), stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d: Buffer) => (stdout += String(d)));
    c.stderr!.on('data', (d: Buffer) => (stderr += String(d)));
    const timer = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.once('error', (e) => {
      clearTimeout(timer);
      live.delete(c);
      reject(e);
    });
    // 'close': after the last of its output
    c.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(c);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  }));
}
