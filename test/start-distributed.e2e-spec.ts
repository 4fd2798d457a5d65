/**
 * `npm run start:distributed` itself (its built launcher, `npm run build` first) on real services of this run: every
 * app behind the edge, and an app that crashes once everything runs is started again while the others keep running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { APP_NAMES } from '@linan/platform';
import { describeDistributed, eventually, freePort, startDistributedServices, type DistributedServices } from '@linan/testing';
import { takenAppPorts } from '../scripts/lib/distributed-env';
import { STACK_SETTINGS } from './distributed/stack';

const REPO = join(__dirname, '..');

/** A PORT whose PORT+1 … PORT+5 are free too. */
async function freePortRange(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + APP_NAMES.length < 65_000 && !(await takenAppPorts(APP_NAMES.map((_, i) => port + 1 + i)))) return port;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describeDistributed('npm run start:distributed on real services', () => {
  let services: DistributedServices;
  let launcher: ChildProcess;
  let out = '';
  let port: number;
  const pids = new Map<string, number>();

  beforeAll(async () => {
    services = await startDistributedServices();
    port = await freePortRange();
    launcher = spawn(process.execPath, [join(REPO, 'dist', 'scripts', 'start-distributed.js')], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...services.env, ...STACK_SETTINGS, PORT: String(port), HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'warn', MQTT_CLIENT_ID: 'gw-launcher' },
    });
    launcher.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
    launcher.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
    await eventually(() => out.includes('is running — distributed mode'), 90_000, 'the launcher\'s banner');
    for (const app of APP_NAMES) pids.set(app, Number(new RegExp(`^ {2}${app} +http://127\\.0\\.0\\.1:\\d+ .*pid (\\d+)\\)$`, 'm').exec(out)?.[1]));
  }, 120_000);

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      launcher.kill('SIGTERM');
      await new Promise((r) => launcher.once('close', r));
    }
    await services?.close();
  }, 60_000);

  const edgeHealth = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    return { status: r.status, body: (await r.json()) as { apps: Record<string, string> } };
  };

  it('prints where each app listens and where devices connect; the edge answers for every app', async () => {
    expect([...pids.values()].every((pid) => pid > 0 && alive(pid))).toBe(true);
    expect(out).toContain(`Devices       ${services.deviceMqttUrl}`);
    expect(await edgeHealth()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ok', apps: Object.fromEntries(APP_NAMES.map((a) => [a, 'up'])) }) });
  });

  it('starts an app that crashed again on its port while the others keep running; the edge is whole again', async () => {
    process.kill(pids.get('triage')!, 'SIGKILL');
    await eventually(() => out.includes('triage exited (signal SIGKILL); starting it again in 1 s (restart 1 of 5'), 10_000, 'the launcher noticing');
    await eventually(() => out.includes('triage is ready again'), 60_000, `triage ready again\n${out.slice(-3000)}`);
    expect(await edgeHealth()).toMatchObject({ status: 200, body: { apps: { triage: 'up' } } });
    // nobody else was touched, and the launcher goes on
    for (const app of APP_NAMES.filter((a) => a !== 'triage')) expect({ app, alive: alive(pids.get(app)!) }).toEqual({ app, alive: true });
    expect(launcher.exitCode).toBeNull();
    const newTriage = Number(/triage started again \(pid (\d+)\)/.exec(out)?.[1]);
    expect(newTriage).not.toBe(pids.get('triage'));
    expect(alive(newTriage)).toBe(true);
  }, 90_000);

  it('stops every app on SIGINT, including the one it started again', async () => {
    const all = [...pids.values(), Number(/triage started again \(pid (\d+)\)/.exec(out)?.[1])].filter((pid) => alive(pid));
    launcher.kill('SIGINT');
    const code = await new Promise<number | null>((r) => launcher.once('close', (c) => r(c)));
    expect(code).toBe(0);
    expect(all.filter(alive)).toEqual([]);
  }, 60_000);
});
