/**
 * `npm run start:distributed` — the distributed mode on a machine without Docker: every app as its own process on
 * the PostgreSQL, Kafka, Redis and MQTT broker named in the environment, behind one reverse proxy on PORT.
 *
 * - Checks the environment first (every bad or missing key named, then exit 1).
 * - Starts gateway, triage, dispatch, provisioning and console as child processes, each on its own port on
 *   127.0.0.1 (PORT+1 … PORT+5 in that order), with APPS set to that app alone.
 * - The proxy on HTTP_HOST:PORT routes by the edge route table (libs/runtime/src/routes.ts), WebSocket /ws
 *   included; its /health is 200 only while every app's /health is.
 * - Forwards each app's output with the app's name in front; waits until every app's /health is 200 and prints
 *   where each listens.
 * - Ctrl-C, SIGTERM or SIGHUP stops them all (SIGTERM, then SIGKILL after 15 s). If an app exits before every app
 *   was ready, the others are stopped too and the launcher exits 1; later, the app is started again on its port
 *   (RestartPolicy) while the others keep running, until it exits too often.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { brokerAddress } from '@linan/devices';
import { APP_NAMES, displayHost, readEnvironment, type AppConfig, type AppName } from '@linan/platform';
import { appEnvironment, checkDistributedEnvironment, redactUrl, takenAppPorts } from './lib/distributed-env';
import { createEdgeProxy, type EdgeHealth, type EdgeProxy, type Upstream } from './lib/edge-proxy';
import { freePort, REPO_ROOT, sleep } from './lib/platform-process';
import { MAX_RESTARTS, RESTART_WINDOW_MS, RestartPolicy } from './lib/restart-policy';

const READY_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 15_000;
/** How long the edge's /health waits for each app's. */
const HEALTH_TIMEOUT_MS = 3_000;

interface AppProcess {
  app: AppName;
  port: number;
  env: Record<string, string>;
  proc: ChildProcess;
  exited: Promise<void>;
}

const useColor = process.stdout.isTTY === true;
const COLORS = ['36', '33', '35', '32', '34'];
const say = (line: string) => process.stdout.write(`${line}\n`);
const warn = (line: string) => process.stderr.write(`${line}\n`);

let children: AppProcess[] = [];
let edge: EdgeProxy | null = null;
let stopping: Promise<void> | null = null;
/** Every app was ready once: from then on an app that exits is started again (RestartPolicy). */
let running = false;
const restarts = new RestartPolicy();

function prefix(app: string, i: number): string {
  const label = `${app.padEnd(12)}|`;
  return useColor ? `\x1b[${COLORS[i % COLORS.length]}m${label}\x1b[0m ` : `${label} `;
}

/** Ports for the apps: PORT+1 … PORT+5, or free ones when PORT is 0. */
async function internalPorts(edgePort: number): Promise<number[]> {
  if (edgePort === 0) return Promise.all(APP_NAMES.map(() => freePort()));
  const ports = APP_NAMES.map((_, i) => edgePort + 1 + i);
  if (ports[ports.length - 1] > 65535) throw new Error(`PORT ${edgePort} leaves no room for the apps' ports (PORT+1 … PORT+${APP_NAMES.length}); choose a lower PORT`);
  return ports;
}

function startChild(app: AppName, index: number, port: number, env: Record<string, string>): AppProcess {
  const main = join(REPO_ROOT, 'dist', 'apps', app, 'main.js');
  // its own process group: a Ctrl-C reaches the launcher only, which then stops each app exactly once
  const proc = spawn(process.execPath, [main], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tag = prefix(app, index);
  createInterface({ input: proc.stdout! }).on('line', (l) => process.stdout.write(`${tag}${l}\n`));
  createInterface({ input: proc.stderr! }).on('line', (l) => process.stderr.write(`${tag}${l}\n`));
  // 'close' comes after the last line of its output
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  proc.once('close', (code, signal) => {
    if (stopping) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!running) {
      warn(`\n${app} exited (${how}) before every app was ready; stopping the other apps.`);
      void stopAll().then(() => process.exit(1));
      return;
    }
    const next = restarts.next(app, Date.now());
    if (!next.restart) {
      warn(`\n${app} exited (${how}), its ${next.count}th exit within ${RESTART_WINDOW_MS / 60_000} minutes; stopping every app (exit 1).`);
      void stopAll().then(() => process.exit(1));
      return;
    }
    warn(`\n${app} exited (${how}); starting it again in ${next.delayMs / 1000} s (restart ${next.count} of ${MAX_RESTARTS} within ${RESTART_WINDOW_MS / 60_000} minutes). The other apps keep running.`);
    setTimeout(() => void restart(index), next.delayMs);
  });
  return { app, port, env, proc, exited };
}

/** Starts a running app's process again on its port with the same environment, and says when it is ready. */
async function restart(index: number): Promise<void> {
  if (stopping) return;
  const { app, port, env } = children[index];
  children[index] = startChild(app, index, port, env);
  say(`${app} started again (pid ${children[index].proc.pid})`);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!stopping && Date.now() < deadline && children[index].proc.exitCode === null && children[index].proc.signalCode === null) {
    if ((await appHealth(port)).status === 200) {
      say(`${app} is ready again`);
      return;
    }
    await sleep(250);
  }
}

async function appHealth(port: number): Promise<{ status: number; body: unknown }> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON: keep the text */
    }
    return { status: r.status, body };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    if (err.name === 'TimeoutError') return { status: 0, body: `no answer from its /health within ${HEALTH_TIMEOUT_MS / 1000} s (hung, or too busy)` };
    if (err.cause?.code === 'ECONNREFUSED') return { status: 0, body: 'not listening (stopped, or still starting)' };
    return { status: 0, body: err.message };
  }
}

async function edgeHealth(): Promise<EdgeHealth> {
  const each = await Promise.all(children.map(async (c) => [c.app, await appHealth(c.port)] as const));
  const ok = each.length === APP_NAMES.length && each.every(([, h]) => h.status === 200);
  return { ok, body: { status: ok ? 'ok' : 'error', apps: Object.fromEntries(each.map(([app, h]) => [app, h.status === 200 ? 'up' : h.body])) } };
}

async function waitUntilReady(): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const pending = new Set(children.map((c) => c.app));
  while (pending.size) {
    if (stopping) return;
    for (const c of children.filter((x) => pending.has(x.app))) {
      if ((await appHealth(c.port)).status === 200) pending.delete(c.app);
    }
    if (!pending.size) return;
    if (Date.now() > deadline) {
      const detail = await Promise.all([...pending].map(async (app) => {
        const c = children.find((x) => x.app === app)!;
        return `  ${app}: ${JSON.stringify((await appHealth(c.port)).body)}`;
      }));
      throw new Error(`not ready within ${READY_TIMEOUT_MS / 1000} s (GET /health is not 200):\n${detail.join('\n')}`);
    }
    await sleep(250);
  }
}

function stopAll(): Promise<void> {
  stopping ??= (async () => {
    await edge?.close().catch(() => undefined);
    const running = children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null);
    for (const c of running) c.proc.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const c of running) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    }, STOP_GRACE_MS);
    await Promise.all(running.map((c) => c.exited));
    clearTimeout(killer);
  })();
  return stopping;
}

function summary(config: AppConfig, edgeUrl: string): string {
  const services = [
    `PostgreSQL ${redactUrl(config.database.url ?? '')}`,
    `Kafka ${config.kafka.brokers?.join(',')}`,
    `Redis ${redactUrl(config.redis.url ?? '')}`,
    `MQTT ${redactUrl(config.mqtt.url ?? '')}`,
  ];
  return [
    '',
    "  邻安 Lin'an is running — distributed mode, one process per app",
    '',
    `  Console       ${edgeUrl}/`,
    `  HTTP API      ${edgeUrl}/api/v1/…   API docs ${edgeUrl}/api/docs   WebSocket ${edgeUrl.replace(/^http/, 'ws')}/ws`,
    `  Health        ${edgeUrl}/health   (every app's /health)`,
    // where devices connect: MQTT_URL's broker without the platform's own account (validated by the configuration)
    `  Devices       ${brokerAddress(config.mqtt.url!).url}   (MQTT, each with its own serial and secret)`,
    '',
    ...children.map((c) => `  ${c.app.padEnd(13)} http://127.0.0.1:${c.port}   (/health, /metrics; pid ${c.proc.pid})`),
    '',
    ...services.map((s, i) => `  ${i === 0 ? 'Services' : ''.padEnd(8)}      ${s}`),
    '',
    '  Stop with Ctrl-C (or SIGTERM to this process).',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const env = readEnvironment();
  const check = checkDistributedEnvironment(env);
  if (!check.ok) {
    warn(`\n${check.message}\n`);
    process.exit(1);
  }
  const { config } = check;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (stopping) return;
      warn(`\n${sig}: stopping every app…`);
      void stopAll().then(() => process.exit(0));
    });
  }
  // whatever else ends this process, its apps do not outlive it
  process.on('exit', () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
  });

  const ports = await internalPorts(config.http.port);
  const taken = config.http.port === 0 ? null : await takenAppPorts(ports);
  if (taken) {
    warn(`\n${taken}\n`);
    process.exit(1);
  }
  const upstreams = new Map<string, Upstream>(APP_NAMES.map((app, i) => [app, { host: '127.0.0.1', port: ports[i] }]));
  edge = createEdgeProxy({ upstreams, health: edgeHealth, log: (l) => warn(`${prefix('edge', APP_NAMES.length)}${l}`) });
  let edgePort: number;
  try {
    edgePort = await edge.listen(config.http.port, config.http.host);
  } catch (e) {
    const busy = (e as NodeJS.ErrnoException).code === 'EADDRINUSE';
    warn(busy ? `\nHTTP port ${config.http.port} on ${config.http.host} is already in use. Set PORT to a free port, e.g. PORT=3100.\n` : `\ncannot listen on ${config.http.host}:${config.http.port}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  say(`Starting ${APP_NAMES.join(', ')} (ports ${ports.join(', ')} on 127.0.0.1), edge on ${config.http.host}:${edgePort}…`);
  children = APP_NAMES.map((app, i) => startChild(app, i, ports[i], appEnvironment(env, app, ports[i])));
  try {
    await waitUntilReady();
  } catch (e) {
    warn(`\n${(e as Error).message}\nStopping every app.`);
    await stopAll();
    process.exit(1);
  }
  if (stopping) return;
  running = true;
  say(summary(config, `http://${displayHost(config.http.host)}:${edgePort}`));
}

main().catch(async (e: unknown) => {
  warn(`\nstart:distributed failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  await stopAll();
  process.exit(1);
});
