import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { readEnvironment } from '@linan/platform';
import { BUILT_MAIN, freePort, REPO_ROOT, spawnPlatform, startHarness } from '@linan/testing';

describe('starting the platform', () => {
  it('prints the console URL, the MQTT address and a generated admin password once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linan-start-'));
    try {
      const first = await spawnPlatform({ DATA_DIR: dir });
      const out = first.output();
      expect(out).toContain(`Console       ${first.httpUrl}/`);
      expect(out).toContain(`MQTT broker   ${first.mqttUrl}`);
      const password = /Admin password (\S+)/.exec(out)?.[1];
      expect(password).toMatch(/^[A-Za-z0-9_-]{12,}$/);
      const login = await fetch(`${first.httpUrl}/api/v1/auth/login`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }),
      });
      expect(login.status).toBe(200);
      await first.kill('SIGTERM');

      const second = await spawnPlatform({ DATA_DIR: dir });
      expect(second.output()).not.toContain(password!);
      expect(second.output()).toContain('Admin password unchanged');
      await second.kill('SIGTERM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses a second process on the same data folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linan-lock-'));
    try {
      const first = await spawnPlatform({ DATA_DIR: dir, ADMIN_PASSWORD: 'lock-test-pw' });
      const second = spawn(process.execPath, [BUILT_MAIN], {
        env: { PATH: readEnvironment().PATH ?? '', DATA_DIR: dir, PORT: String(await freePort()), MQTT_PORT: String(await freePort()) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      second.stderr!.on('data', (d) => (err += String(d)));
      const code = await new Promise<number | null>((r) => second.once('exit', r));
      expect(code).toBe(1);
      expect(err).toContain(`is in use by process ${first.proc.pid}`);
      await first.kill('SIGTERM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it.each(['gateway', 'triage', 'dispatch', 'provisioning', 'console'])('the %s app starts on its own (its own main.ts)', async (app) => {
    const dir = mkdtempSync(join(tmpdir(), `linan-${app}-`));
    try {
      const p = await spawnPlatform({ DATA_DIR: dir, ADMIN_PASSWORD: 'single-app-pw' }, join(REPO_ROOT, 'dist', 'apps', app, 'src', 'main.js'));
      expect(p.output()).toContain(`邻安 Lin'an ${app} is running`);
      expect(p.output().includes('MQTT broker')).toBe(app === 'gateway');
      const health = await (await fetch(`${p.httpUrl}/health`)).json() as { status: string; info: Record<string, unknown> };
      expect(health.status).toBe('ok');
      expect(Object.keys(health.info).sort()).toEqual(app === 'gateway' ? ['database', 'mqtt'] : ['database']);
      await p.kill('SIGTERM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('says clearly that the MQTT port is taken, and does not start', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(startHarness({ MQTT_PORT: String(port) })).rejects.toThrow(`MQTT port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('stops with a non-zero exit and names every bad setting', async () => {
    const proc = spawn(process.execPath, [BUILT_MAIN], { env: { PATH: readEnvironment().PATH ?? '', PORT: 'x', APPS: 'nope' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += String(d)));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
    expect(err).toContain('APPS');
  });
});
