import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { MqttClient } from 'mqtt';
import { Topics } from '@linan/contracts';
import { connectDevice, eventually, householdBody, publishQos1, spawnPlatform, type ChildPlatform } from '@linan/testing';

const N = 40;
/** Each press is of another type, so each opens its own alert: a burst large enough that triage lags the gateway. */
const TYPES = ['sos', 'fall', 'smoke', 'gas', 'water', 'inactivity', 'power_loss', 'tamper'] as const;
const TOTAL = N * TYPES.length;
const PASSWORD = 'crash-test-admin';

async function api(base: string, token: string | null, method: string, path: string, body?: unknown) {
  const r = await fetch(`${base}${path}`, {
    method, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${await r.text()}`);
  return r.json() as Promise<Record<string, unknown>>;
}

/**
 * The process is killed (SIGKILL) in the middle of a burst of SOS presses, right after a PUBACK. Every acknowledged
 * event must be in the database at that moment, and after a restart every stored one is exactly one alert. The
 * second case stops the process with events stored but not yet triaged, so the restart has to do the work.
 */
describe('kill -9 right after PUBACK', () => {
  let dir: string;
  let p: ChildPlatform | null = null;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'linan-crash-'));
  });
  afterAll(async () => {
    await p?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged alarm and opens none twice', async () => {
    const env = { DATA_DIR: dir, ADMIN_PASSWORD: PASSWORD };
    p = await spawnPlatform(env);
    const token = (await api(p.httpUrl, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: PASSWORD })).accessToken as string;
    const devices: { serial: string; password: string }[] = [];
    for (let i = 0; i < N; i++) {
      const hh = await api(p.httpUrl, token, 'POST', '/api/v1/households', householdBody({ name: `住户${i}` }));
      const d = await api(p.httpUrl, token, 'POST', '/api/v1/devices', { serial: `CRASH-${i}`, type: 'sos' });
      await api(p.httpUrl, token, 'POST', `/api/v1/devices/${d.id}/install`, { householdId: hh.id });
      devices.push({ serial: d.serial as string, password: (d.mqtt as { password: string }).password });
    }
    const clients: MqttClient[] = await Promise.all(devices.map((d) => connectDevice(p!.mqttUrl, d.serial, d.password)));
    // kill as soon as a quarter of the burst is acknowledged, while the rest is still in flight
    const acked = new Set<string>();
    let kill!: () => void;
    const killed = new Promise<void>((r) => (kill = r));
    clients.forEach((c, i) => TYPES.forEach((type) => {
      publishQos1(c, `devices/${devices[i].serial}/events`, JSON.stringify({ id: `crash-${i}-${type}`, type, ts: Date.now() })).then(() => {
        if (acked.size >= TOTAL / 4) return;
        acked.add(`CRASH-${i}/${type}`);
        if (acked.size >= TOTAL / 4) kill();
      }, () => undefined);
    }));
    await killed;
    await p.kill('SIGKILL');
    clients.forEach((c) => c.end(true));

    // while it is down: every acknowledged event is in the bus log on disk
    const pg = await PGlite.create({ dataDir: join(dir, 'pg') });
    const logged = (await pg.query<{ value: string }>('SELECT value FROM bus_log WHERE topic = $1', [Topics.deviceEvents])).rows
      .map((r) => JSON.parse(r.value).payload as { serial: string; type: string })
      .map((e) => `${e.serial}/${e.type}`);
    const alertsAtKill = Number((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts')).rows[0].n);
    await pg.close();
    expect(acked.size).toBeGreaterThanOrEqual(TOTAL / 4);
    for (const a of acked) expect(logged).toContain(a);

    p = await spawnPlatform(env);
    const token2 = (await api(p.httpUrl, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: PASSWORD })).accessToken as string;
    const items = await eventually(async () => {
      const r = (await api(p!.httpUrl, token2, 'GET', '/api/v1/alerts?status=all')).items as { householdId: string; type: string }[];
      return r.length >= logged.length ? r : undefined;
    }, 30_000, `${logged.length} alerts after restart (there were ${alertsAtKill} at the kill)`);
    await new Promise((r) => setTimeout(r, 500));
    const again = (await api(p.httpUrl, token2, 'GET', '/api/v1/alerts?status=all')).items as { householdId: string }[];
    expect(again).toHaveLength(logged.length);
    expect(new Set(items.map((a) => `${a.householdId}/${a.type}`)).size).toBe(logged.length);
    // eslint-disable-next-line no-console
    console.info(`crash test: ${acked.size} acknowledged and ${logged.length} stored at the kill, ${alertsAtKill} alerts then; ${again.length} after restart`);
  }, 120_000);

  it('events stored while triage is not running become alerts when it starts', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'linan-crash2-'));
    try {
      const env = { DATA_DIR: dir2, ADMIN_PASSWORD: PASSWORD };
      // first run: only ingress and the APIs, so nothing consumes the device events
      let q = await spawnPlatform({ ...env, APPS: 'gateway,provisioning,console' });
      const token = (await api(q.httpUrl, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: PASSWORD })).accessToken as string;
      const hh = await api(q.httpUrl, token, 'POST', '/api/v1/households', householdBody());
      const d = await api(q.httpUrl, token, 'POST', '/api/v1/devices', { serial: 'LATE-1', type: 'sos' });
      await api(q.httpUrl, token, 'POST', `/api/v1/devices/${d.id}/install`, { householdId: hh.id });
      const c = await connectDevice(q.mqttUrl, 'LATE-1', (d.mqtt as { password: string }).password);
      await publishQos1(c, 'devices/LATE-1/events', JSON.stringify({ id: 'late-1', type: 'sos', ts: Date.now() }));
      await q.kill('SIGKILL');
      c.end(true);
      const pg = await PGlite.create({ dataDir: join(dir2, 'pg') });
      expect((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM alerts')).rows[0].n).toBe(0);
      expect((await pg.query<{ n: number }>('SELECT count(*)::int AS n FROM bus_log WHERE topic = $1', [Topics.deviceEvents])).rows[0].n).toBe(1);
      await pg.close();

      q = await spawnPlatform(env);
      try {
        const alerts = await eventually(async () => {
          const r = (await api(q.httpUrl, token, 'GET', `/api/v1/alerts?householdId=${hh.id}`)).items as { status: string }[];
          return r.length && r[0].status === 'dispatched' ? r : undefined;
        }, 20_000, 'the alert after restart');
        expect(alerts).toHaveLength(1);
      } finally {
        await q.kill();
      }
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  }, 120_000);

  it('an escalation timer armed before a kill -9 fires after the restart', async () => {
    const dir3 = mkdtempSync(join(tmpdir(), 'linan-timer-'));
    try {
      const env = { DATA_DIR: dir3, ADMIN_PASSWORD: PASSWORD, ESCALATION_ACK_TIMEOUT_S: '4', TIMER_POLL_MS: '100' };
      let q = await spawnPlatform(env);
      const token = (await api(q.httpUrl, null, 'POST', '/api/v1/auth/login', { username: 'admin', password: PASSWORD })).accessToken as string;
      const hh = await api(q.httpUrl, token, 'POST', '/api/v1/households', householdBody());
      const d = await api(q.httpUrl, token, 'POST', '/api/v1/devices', { serial: 'TIMER-1', type: 'sos' });
      await api(q.httpUrl, token, 'POST', `/api/v1/devices/${d.id}/install`, { householdId: hh.id });
      const c = await connectDevice(q.mqttUrl, 'TIMER-1', (d.mqtt as { password: string }).password);
      await publishQos1(c, 'devices/TIMER-1/events', JSON.stringify({ id: 'timer-1', type: 'sos', ts: Date.now() }));
      c.end(true);
      const alert = await eventually(async () => {
        const r = (await api(q.httpUrl, token, 'GET', `/api/v1/alerts?householdId=${hh.id}`)).items as { id: string }[];
        return r[0];
      }, 10_000, 'the alert');
      const before = (await api(q.httpUrl, token, 'GET', `/api/v1/alerts/${alert.id}`)).timeline as { kind: string }[];
      await q.kill('SIGKILL'); // the timer is due about 4 s after the alert opened; the process is gone before that
      expect(before.some((x) => x.kind === 'escalated')).toBe(false);

      q = await spawnPlatform(env);
      try {
        const timeline = await eventually(async () => {
          const a = await api(q.httpUrl, token, 'GET', `/api/v1/alerts/${alert.id}`);
          const t = a.timeline as { kind: string; actor: string }[];
          return t.some((x) => x.kind === 'escalated') ? t : undefined;
        }, 20_000, 'the escalation after the restart');
        expect(timeline.filter((x) => x.kind === 'escalated')[0].actor).toBe('system:escalation');
      } finally {
        await q.kill();
      }
    } finally {
      rmSync(dir3, { recursive: true, force: true });
    }
  }, 120_000);
});
