import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { BUILT_MAIN, freePort, spawnPlatform, startHarness } from '@linan/testing';

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
    const proc = spawn(process.execPath, [BUILT_MAIN], { env: { PATH: process.env.PATH ?? '', PORT: 'x', APPS: 'nope' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr!.on('data', (d) => (err += String(d)));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    expect(code).toBe(1);
    expect(err).toContain('PORT');
    expect(err).toContain('APPS');
  });
});
