import { Agent, get, type IncomingMessage } from 'node:http';
import { Database, HTTP_KEEP_ALIVE_MS } from '@linan/platform';
import { EDGE_IDLE_CONNECTION_MS } from '../scripts/lib/edge-proxy';
import { connectDevice, eventually, householdBody, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

const bearer = { type: 'bearer' as const };

describe('HTTP API v1', () => {
  let h: Harness;
  let db: Database;
  beforeAll(async () => {
    h = await startHarness();
    db = h.platform.app.get(Database);
  });
  afterAll(async () => {
    await h?.close();
  });
  const count = async (table: string) => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`))[0].n);

  it('keeps an idle connection open longer than a proxy in front keeps one (65 s; Node would say 5)', async () => {
    const agent = new Agent({ keepAlive: true });
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => get(`${h.platform.httpUrl}/health`, { agent }, resolve).on('error', reject));
      res.resume();
      expect(res.headers['keep-alive']).toBe(`timeout=${HTTP_KEEP_ALIVE_MS / 1000}`);
      expect(HTTP_KEEP_ALIVE_MS).toBeGreaterThan(EDGE_IDLE_CONNECTION_MS);
    } finally {
      agent.destroy();
    }
  });

  describe('login', () => {
    it('returns a token for the admin', async () => {
      const r = await h.http().post('/api/v1/auth/login').send({ username: 'admin', password: 'test-admin-pw' }).expect(200);
      expect(r.body.accessToken).toEqual(expect.any(String));
    });
    it('refuses a wrong password with 401', async () => {
      const r = await h.http().post('/api/v1/auth/login').send({ username: 'admin', password: 'nope' }).expect(401);
      expect(r.body.code).toBe('AUTH.BAD_CREDENTIALS');
    });
  });

  describe('households', () => {
    it.each([
      ['phone', { phone: '12345' }],
      ['phone', { phone: '2381234567x' }],
      ['subsidyCategory', { subsidyCategory: 'rich' }],
      ['funding', { funding: 'charity' }],
      ['district', { district: '' }],
      ['name', { name: undefined }],
      ['address', { address: 42 }],
      ['contacts.0.phone', { contacts: [{ name: '儿子', phone: '110', relation: '儿子' }] }],
      ['lat', { lat: 123 }],
    ])('400 naming %s when it is invalid, and nothing is stored', async (field, over) => {
      const before = await count('households');
      const r = await h.http().post('/api/v1/households').auth(h.adminToken, bearer).send(householdBody(over)).expect(400);
      expect(r.body.fields.map((f: { field: string }) => f.field)).toContain(field);
      expect(r.body.message).toContain(field);
      expect(await count('households')).toBe(before);
    });
    it('400 for an unknown field', async () => {
      const r = await h.http().post('/api/v1/households').auth(h.adminToken, bearer).send(householdBody({ vip: true })).expect(400);
      expect(r.body.message).toContain('vip');
    });
    it('201 with the household, contacts included', async () => {
      const r = await h.http().post('/api/v1/households').auth(h.adminToken, bearer).send(householdBody()).expect(201);
      expect(r.body).toMatchObject({ id: expect.any(String), subsidyCategory: 'living_alone', funding: 'government', contacts: [{ relation: '女儿' }] });
    });
  });

  describe('devices', () => {
    it('registers with one-time MQTT credentials', async () => {
      const r = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'SMK-0001', type: 'smoke' }).expect(201);
      expect(r.body).toMatchObject({ serial: 'SMK-0001', status: 'registered', mqtt: { clientId: 'SMK-0001', username: 'SMK-0001', password: expect.any(String) } });
      const stored = await db.query<{ secret_hash: string }>('SELECT secret_hash FROM devices WHERE serial = $1', ['SMK-0001']);
      expect(stored[0].secret_hash).toMatch(/^scrypt\$/);
      expect(stored[0].secret_hash).not.toContain(r.body.mqtt.password);
    });
    it('409 for a duplicate serial, and nothing changes', async () => {
      await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'DUP-0001', type: 'sos' }).expect(201);
      const before = await count('devices');
      const r = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'DUP-0001', type: 'sos' }).expect(409);
      expect(r.body.code).toBe('DEVICE.DUPLICATE_SERIAL');
      expect(await count('devices')).toBe(before);
    });
    it.each([
      ['serial', { serial: 'has/slash', type: 'sos' }],
      ['serial', { serial: 'x', type: 'sos' }],
      ['type', { serial: 'OK-0001', type: 'toaster' }],
      ['protocol', { serial: 'OK-0002', type: 'sos', protocol: 'carrier-pigeon' }],
    ])('400 naming %s when it is invalid', async (field, body) => {
      const r = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send(body).expect(400);
      expect(r.body.fields.map((f: { field: string }) => f.field)).toContain(field);
    });
    it('accepts the fields of other device families and never returns the AES key', async () => {
      const r = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer)
        .send({ serial: 'PANEL-1', type: 'panel', protocol: 'sia-dc09', account: '1234', aesKey: '00112233445566778899AABBCCDDEEFF' }).expect(201);
      expect(r.body).toMatchObject({ protocol: 'sia-dc09', attributes: { account: '1234', aesKey: '***' } });
      expect(r.body.mqtt).toBeUndefined();
      const bad = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'NB-1', type: 'smoke', protocol: 'ctwing', imei: '12' }).expect(400);
      expect(bad.body.fields.map((f: { field: string }) => f.field)).toEqual(['imei']);
    });
    it('404 when installing into a household that does not exist', async () => {
      const d = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'ORPHAN-1', type: 'sos' }).expect(201);
      await h.http().post(`/api/v1/devices/${d.body.id}/install`).auth(h.adminToken, bearer).send({ householdId: '3b0c5a8e-9f5e-4a43-8d2e-7c1b2a3d4e5f' }).expect(404);
      expect((await db.query<{ status: string }>('SELECT status FROM devices WHERE id = $1', [d.body.id]))[0].status).toBe('registered');
    });
  });

  describe('authorization', () => {
    it('401 without a token', async () => {
      const r = await h.http().post('/api/v1/households').send(householdBody()).expect(401);
      expect(r.body.code).toBe('AUTH.TOKEN_REQUIRED');
      await h.http().get('/api/v1/alerts').expect(401);
    });
    it('401 with a forged token', async () => {
      await h.http().get('/api/v1/alerts').set('Authorization', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x').expect(401);
    });
    it('403 for the wrong role', async () => {
      const installer = await h.tokenFor('installer');
      const aide = await h.tokenFor('aide');
      await h.http().post('/api/v1/aides').auth(installer, bearer).send({ name: 'x', phone: '13700000000', district: 'a', street: 'b', community: 'c' }).expect(403);
      const r = await h.http().post('/api/v1/devices').auth(aide, bearer).send({ serial: 'AIDE-1', type: 'sos' }).expect(403);
      expect(r.body.code).toBe('AUTH.ROLE_FORBIDDEN');
      await h.http().post('/api/v1/users').auth(installer, bearer).send({ username: 'evil', displayName: 'e', password: 'password-1', role: 'admin' }).expect(403);
    });
    it('403 for another district', async () => {
      const installer = await h.tokenFor('installer', '湖里区');
      const r = await h.http().post('/api/v1/households').auth(installer, bearer).send(householdBody({ district: '思明区' })).expect(403);
      expect(r.body.code).toBe('AUTH.DISTRICT_FORBIDDEN');
      await h.http().post('/api/v1/households').auth(installer, bearer).send(householdBody({ district: '湖里区' })).expect(201);
      const home = await seedHome(h, { aides: 0 });
      const d = await h.http().post(`/api/v1/devices/${home.deviceId}/decommission`).auth(installer, bearer).expect(403);
      expect(d.body.code).toBe('AUTH.DISTRICT_FORBIDDEN');
      await h.http().post(`/api/v1/devices/${home.deviceId}/rotate-secret`).auth(installer, bearer).expect(403);
      expect((await db.query<{ status: string }>('SELECT status FROM devices WHERE id = $1', [home.deviceId]))[0].status).toBe('active');
    });
    it('writes an audit row for every action, including refused ones, before it answers', async () => {
      const devicePosts = () => db.query<{ action: string; outcome: number; actor_name: string }>(
        "SELECT action, outcome, actor_name FROM audit_log WHERE action = 'POST /api/v1/devices' ORDER BY id DESC");
      const before = (await devicePosts()).length;
      await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'AUDIT-1', type: 'sos' }).expect(201);
      expect(await devicePosts()).toHaveLength(before + 1);
      await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: 'AUDIT-1', type: 'sos' }).expect(409);
      const rows = (await devicePosts()).slice(0, 2);
      expect(rows.map((r) => [r.action, r.outcome, r.actor_name])).toEqual([['POST /api/v1/devices', 409, 'admin'], ['POST /api/v1/devices', 201, 'admin']]);
    });
    it('audits refused actions too: no token and wrong role', async () => {
      const aide = await h.tokenFor('aide');
      const since = Number((await db.query<{ m: string }>('SELECT coalesce(max(id), 0) AS m FROM audit_log'))[0].m);
      await h.http().post('/api/v1/devices').send({ serial: 'AUDIT-2', type: 'sos' }).expect(401);
      await h.http().post('/api/v1/devices').auth(aide, bearer).send({ serial: 'AUDIT-3', type: 'sos' }).expect(403);
      const rows = await db.query<{ outcome: number; actor_role: string | null }>(
        "SELECT outcome, actor_role FROM audit_log WHERE action = 'POST /api/v1/devices' AND id > $1 ORDER BY id", [since]);
      expect(rows.map((r) => [r.outcome, r.actor_role])).toEqual([[401, null], [403, 'aide']]);
    });
  });

  describe('aides', () => {
    it('creates an aide and switches duty', async () => {
      const a = await h.http().post('/api/v1/aides').auth(h.adminToken, bearer).send({ name: '王阿姨', phone: '13711112222', district: '思明区', street: '莲前街道', community: '莲花社区' }).expect(201);
      expect(a.body.onDuty).toBe(false);
      const r = await h.http().post(`/api/v1/aides/${a.body.id}/duty`).auth(h.adminToken, bearer).send({ onDuty: true }).expect(200);
      expect(r.body.onDuty).toBe(true);
      await h.http().post(`/api/v1/aides/${a.body.id}/duty`).auth(h.adminToken, bearer).send({ onDuty: 'yes' }).expect(400);
    });
  });

  describe('alert actions', () => {
    const openAlert = async () => {
      const home = await seedHome(h, { aides: 1 });
      const c = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
      await publishQos1(c, `devices/${home.serial}/events`, sosEvent('a1'));
      c.end();
      const alert = await eventually(async () => {
        const r = await h.http().get(`/api/v1/alerts?householdId=${home.householdId}`).auth(h.adminToken, bearer).expect(200);
        return r.body.items[0] as { id: string } | undefined;
      }, 5000, 'the alert');
      return { ...alert, serial: home.serial };
    };

    it('answers acknowledge and resolve with the alert as GET shows it: ISO times, no internals', async () => {
      const alert = await openAlert();
      const operator = await h.tokenFor('operator');
      const acked = (await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(operator, bearer).expect(200)).body;
      const resolved = (await h.http().post(`/api/v1/alerts/${alert.id}/resolve`).auth(operator, bearer).send({ outcome: 'test' }).expect(200)).body;
      const shown = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(operator, bearer).expect(200)).body;
      const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(acked).toMatchObject({ id: alert.id, status: 'acknowledged', openedAt: iso, acknowledgedAt: iso, resolvedAt: null, ackTimeoutSeconds: expect.any(Number) });
      expect(resolved).toMatchObject({ status: 'resolved', outcome: 'test', acknowledgedAt: acked.acknowledgedAt, resolvedAt: iso });
      for (const body of [acked, resolved]) {
        expect(Object.keys(body)).not.toEqual(expect.arrayContaining(['policy']));
        expect(body).not.toHaveProperty('timerId');
        expect(body).not.toHaveProperty('firstDeviceTs');
      }
      // the same fields as GET, which adds the household, timeline, dispatches and recent events
      const { household: _h, timeline: _t, dispatches: _d, recentEvents, ...summary } = shown;
      expect(Object.keys(resolved).sort()).toEqual(Object.keys(summary).sort());
      expect(recentEvents[0]).toMatchObject({ serial: alert.serial, type: 'sos', alertId: alert.id });
    });

    it('lists the timeline by time, oldest first, also when an entry was written after later ones', async () => {
      const alert = await openAlert();
      // once every dispatch's outcome is on the timeline, nothing more is written to it
      const first = await eventually(async () => {
        const d = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(h.adminToken, bearer).expect(200)).body;
        const outcomes = d.timeline.filter((t: { kind: string }) => /^dispatch_(sent|failed)$/.test(t.kind)).length;
        return d.dispatches.length > 0 && outcomes === d.dispatches.length && d.timeline;
      }, 10_000, 'every dispatch outcome on the timeline');
      // written last, but it happened a minute before everything else (an event read late, after its alert escalated)
      const earlier = new Date(Date.parse(first[0].at) - 60_000);
      await db.query(`INSERT INTO alert_log (alert_id, at, kind, actor, details) VALUES ($1, $2, 'event_received', 'device:late', '{}')`, [alert.id, earlier]);
      const timeline = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(h.adminToken, bearer).expect(200)).body.timeline;
      expect(timeline[0]).toMatchObject({ at: earlier.toISOString(), actor: 'device:late' });
      expect(timeline.slice(1)).toEqual(first);
    });

    it('acknowledge then resolve; the timeline shows who did what, oldest first', async () => {
      const alert = await openAlert();
      const operator = await h.tokenFor('operator');
      await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(operator, bearer).expect(200);
      await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(operator, bearer).expect(409);
      await h.http().post(`/api/v1/alerts/${alert.id}/resolve`).auth(operator, bearer).send({ outcome: 'panic' }).expect(400);
      await h.http().post(`/api/v1/alerts/${alert.id}/resolve`).auth(operator, bearer).send({ outcome: 'false_alarm', note: '误按' }).expect(200);
      const r = await h.http().post(`/api/v1/alerts/${alert.id}/resolve`).auth(operator, bearer).send({ outcome: 'false_alarm' }).expect(409);
      expect(r.body.code).toBe('ALERT.WRONG_STATE');
      const d = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(operator, bearer).expect(200)).body;
      expect(d).toMatchObject({ status: 'resolved', outcome: 'false_alarm', note: '误按' });
      const kinds = d.timeline.map((t: { kind: string }) => t.kind);
      expect(kinds[0]).toBe('event_received');
      expect(kinds.slice(-2)).toEqual(['acknowledged', 'resolved']);
      expect(d.timeline.at(-1).actor).toMatch(/^user:operator/);
      const times = d.timeline.map((t: { at: string }) => Date.parse(t.at));
      expect(times).toEqual([...times].sort((a, b) => a - b));
      const open = (await h.http().get('/api/v1/alerts?status=open').auth(operator, bearer).expect(200)).body.items;
      expect(open.find((a: { id: string }) => a.id === alert.id)).toBeUndefined();
    });

    it('403 for an installer and for an operator of another district; nothing changes', async () => {
      const alert = await openAlert();
      const installer = await h.tokenFor('installer');
      const elsewhere = await h.tokenFor('operator', '湖里区');
      await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(installer, bearer).expect(403);
      const r = await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(elsewhere, bearer).expect(403);
      expect(r.body.code).toBe('AUTH.DISTRICT_FORBIDDEN');
      await h.http().get(`/api/v1/alerts/${alert.id}`).auth(elsewhere, bearer).expect(403);
      const d = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(h.adminToken, bearer).expect(200)).body;
      expect(d.acknowledgedAt).toBeNull();
    });

    it('404 for an unknown alert, 400 for a malformed id', async () => {
      await h.http().post('/api/v1/alerts/3b0c5a8e-9f5e-4a43-8d2e-7c1b2a3d4e5f/acknowledge').auth(h.adminToken, bearer).expect(404);
      await h.http().post('/api/v1/alerts/not-an-id/acknowledge').auth(h.adminToken, bearer).expect(400);
    });
  });

  describe('requests that cannot be read', () => {
    // each answers 4xx with a code the console and the installers' app can act on, and stores nothing
    const post = (path: string) => h.http().post(path).auth(h.adminToken, bearer);

    it.each([
      ['cut short', '{"name":"张三丰",'],
      ['null', 'null'],
      ['a string', '"a household"'],
    ])('400 REQUEST.MALFORMED_JSON for a body that is not a JSON object (%s), and nothing is stored', async (_what, body) => {
      const before = await count('households');
      const r = await post('/api/v1/households').set('content-type', 'application/json').send(body).expect(400);
      expect(r.body).toMatchObject({ statusCode: 400, code: 'REQUEST.MALFORMED_JSON', message: expect.stringContaining('JSON') });
      expect(await count('households')).toBe(before);
    });

    it('413 REQUEST.TOO_LARGE for a body over the limit, and nothing is stored', async () => {
      const before = await count('households');
      const r = await post('/api/v1/households').send(householdBody({ name: '张'.repeat(60_000) })).expect(413);
      expect(r.body).toMatchObject({ statusCode: 413, code: 'REQUEST.TOO_LARGE', message: expect.stringContaining('100 KB') });
      expect(await count('households')).toBe(before);
    });

    it('400 REQUEST.BAD_ENCODING for a body that says gzip and is not', async () => {
      const before = await count('households');
      const r = await post('/api/v1/households').set('content-type', 'application/json').set('content-encoding', 'gzip').send('not gzip at all').expect(400);
      expect(r.body).toMatchObject({ statusCode: 400, code: 'REQUEST.BAD_ENCODING' });
      expect(await count('households')).toBe(before);
    });

    it('415 REQUEST.UNSUPPORTED_ENCODING for a content encoding the API does not take', async () => {
      const r = await post('/api/v1/households').set('content-type', 'application/json').set('content-encoding', 'compress').send('{}').expect(415);
      expect(r.body).toMatchObject({ statusCode: 415, code: 'REQUEST.UNSUPPORTED_ENCODING', message: expect.stringContaining('compress') });
    });

    it('400 REQUEST.INVALID naming alertId when the dispatch list is asked for one that is not a UUID', async () => {
      const r = await h.http().get('/api/v1/dispatches?alertId=not-a-uuid').auth(h.adminToken, bearer).expect(400);
      expect(r.body).toMatchObject({ statusCode: 400, code: 'REQUEST.INVALID', fields: [{ field: 'alertId', problems: [expect.stringContaining('UUID')] }] });
      await h.http().get('/api/v1/dispatches').auth(h.adminToken, bearer).expect(200);
    });

    it('404 REQUEST.NOT_FOUND for a route the API does not have', async () => {
      const r = await h.http().get('/api/v1/no-such-thing').auth(h.adminToken, bearer).expect(404);
      expect(r.body).toMatchObject({ statusCode: 404, code: 'REQUEST.NOT_FOUND', message: expect.stringContaining('/api/v1/no-such-thing') });
    });

    it.each([
      ['GET', '/api/v1/alerts/not-a-uuid'],
      ['GET', '/api/v1/households/not-a-uuid'],
      ['POST', '/api/v1/devices/not-a-uuid/install'],
      ['POST', '/api/v1/aides/not-a-uuid/duty'],
    ])('400 REQUEST.INVALID naming the id for %s %s', async (method, path) => {
      const r = await (method === 'GET' ? h.http().get(path) : h.http().post(path).send({})).auth(h.adminToken, bearer).expect(400);
      expect(r.body).toMatchObject({ statusCode: 400, code: 'REQUEST.INVALID', fields: [{ field: 'id', problems: [expect.stringContaining('UUID')] }] });
    });
  });

  it('serves health, metrics and the OpenAPI document', async () => {
    expect((await h.http().get('/health').expect(200)).body.status).toBe('ok');
    const m = (await h.http().get('/metrics').expect(200)).text;
    for (const name of ['linan_gateway_messages_total', 'linan_gateway_rejected_total', 'linan_alerts_opened_total', 'linan_dispatches_total', 'linan_device_to_first_dispatch_seconds_bucket']) {
      expect(m).toContain(name);
    }
    const doc = (await h.http().get('/api/docs/openapi.json').expect(200)).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/households', '/api/v1/devices', '/api/v1/alerts/{id}/resolve']));
  });
});

describe('login rate limit', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ LOGIN_ATTEMPTS_PER_MINUTE: '3' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 429 after LOGIN_ATTEMPTS_PER_MINUTE attempts from one address, and leaves other routes alone', async () => {
    // the harness itself logged in once as admin
    for (let i = 0; i < 2; i++) await h.http().post('/api/v1/auth/login').send({ username: 'admin', password: 'guess' }).expect(401);
    const r = await h.http().post('/api/v1/auth/login').send({ username: 'admin', password: 'test-admin-pw' }).expect(429);
    expect(r.body).toMatchObject({ statusCode: 429, code: 'REQUEST.RATE_LIMITED' });
    await h.http().get('/api/v1/alerts').auth(h.adminToken, bearer).expect(200);
  });
});
