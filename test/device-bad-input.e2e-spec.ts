import type { MqttClient } from 'mqtt';
import { Topics, type DeviceEventRejected, type Envelope } from '@linan/contracts';
import { Database, MessageBus } from '@linan/platform';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness, type SeededHome } from '@linan/testing';

/**
 * Every bad device input the contract names: a clear reason on the rejected-events topic, counted in /metrics,
 * and nothing changed (no device event stored, no alert).
 *
 * With TEST_SERVICES=real the devices talk to Mosquitto, which authenticates them and applies the ACL itself: a
 * refused CONNECT, publish or subscription never reaches the platform, so those cases check what the device sees
 * and that nothing changed, not the platform's counters.
 */
describe('bad device input', () => {
  let h: Harness;
  let db: Database;
  const rejected: DeviceEventRejected[] = [];
  const bearer = { type: 'bearer' as const };

  /** Devices connect to an external broker (Mosquitto) rather than the embedded one. */
  let external = false;

  beforeAll(async () => {
    h = await startHarness();
    external = h.services !== undefined;
    db = h.platform.app.get(Database);
    await h.platform.app.get(MessageBus).subscribe({
      groupId: 'test-rejected', topics: [Topics.rejectedEvents],
      handle: async (m) => void rejected.push((JSON.parse(m.value) as Envelope<DeviceEventRejected>).payload),
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  const alertsOf = async (householdId: string) =>
    (await h.http().get(`/api/v1/alerts?status=all&householdId=${householdId}`).auth(h.adminToken, bearer).expect(200)).body.items as { id: string; status: string }[];
  const storedEvents = async (deviceId: string) =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM device_events WHERE device_id = $1', [deviceId]))[0].n);
  const metric = async (line: string) => {
    const text = (await h.http().get('/metrics').expect(200)).text;
    const m = text.split('\n').find((l) => l.startsWith(line));
    return m ? Number(m.split(' ').pop()) : 0;
  };

  describe('payloads', () => {
    let home: SeededHome;
    let device: MqttClient;
    beforeAll(async () => {
      home = await seedHome(h, { aides: 1 });
      device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    });
    afterAll(() => device.end(true));

    const now = () => Date.now();
    it.each([
      ['not JSON', () => 'SOS!!', 'not_json', undefined],
      ['over 4096 bytes', () => JSON.stringify({ id: 'big', type: 'sos', ts: now(), data: { pad: 'x'.repeat(5000) } }), 'too_large', undefined],
      ['missing id', () => JSON.stringify({ type: 'sos', ts: now() }), 'missing_field', 'id'],
      ['ill-typed id', () => JSON.stringify({ id: 42, type: 'sos', ts: now() }), 'invalid_field', 'id'],
      ['missing type', () => JSON.stringify({ id: 'm-type', ts: now() }), 'missing_field', 'type'],
      ['ill-typed type', () => JSON.stringify({ id: 'i-type', type: ['sos'], ts: now() }), 'invalid_field', 'type'],
      ['missing ts', () => JSON.stringify({ id: 'm-ts', type: 'sos' }), 'missing_field', 'ts'],
      ['ill-typed ts', () => JSON.stringify({ id: 'i-ts', type: 'sos', ts: true }), 'invalid_field', 'ts'],
      ['unknown type', () => JSON.stringify({ id: 'u-type', type: 'alien', ts: now() }), 'unknown_type', 'type'],
      ['ts more than 24 h ahead', () => JSON.stringify({ id: 'future', type: 'sos', ts: now() + 25 * 3600_000 }), 'future_timestamp', 'ts'],
    ])('%s: acknowledged, rejected with a reason, counted, nothing stored', async (_name, payload, reason, field) => {
      const before = await metric(`linan_gateway_rejected_total{reason="${reason}"}`);
      const seen = rejected.length;
      await publishQos1(device, `devices/${home.serial}/events`, payload());
      const r = await eventually(() => rejected.slice(seen).find((x) => x.serial === home.serial), 5000, 'the rejected record');
      expect(r).toMatchObject({ reason, topic: `devices/${home.serial}/events` });
      expect(r.field).toBe(field);
      expect(r.detail).toEqual(expect.any(String));
      expect(await metric(`linan_gateway_rejected_total{reason="${reason}"}`)).toBe(before + 1);
      expect(await storedEvents(home.deviceId)).toBe(0);
      expect(await alertsOf(home.householdId)).toEqual([]);
    });

    it('accepts an event older than 24 h and flags it late', async () => {
      await publishQos1(device, `devices/${home.serial}/events`, sosEvent('old-1', Date.now() - 25 * 3600_000));
      const rows = await eventually(async () => {
        const r = await db.query<{ late: boolean }>('SELECT late FROM device_events WHERE device_id = $1', [home.deviceId]);
        return r.length ? r : undefined;
      }, 5000, 'the late event');
      expect(rows[0].late).toBe(true);
    });
  });

  it('a duplicate event id is acknowledged and not re-alerted', async () => {
    const home = await seedHome(h, { aides: 1 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    const before = await metric('linan_gateway_duplicates_total');
    const ts = Date.now();
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('dup-1', ts));
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('dup-1', ts));
    device.end();
    const alerts = await eventually(async () => {
      const a = await alertsOf(home.householdId);
      return a.length ? a : undefined;
    }, 5000, 'the alert');
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts).toHaveLength(1);
    const detail = (await h.http().get(`/api/v1/alerts/${alerts[0].id}`).auth(h.adminToken, bearer).expect(200)).body;
    expect(detail.eventCount).toBe(1);
    expect(await storedEvents(home.deviceId)).toBe(1);
    // behind Mosquitto the two copies may reach two gateway sessions at once; then triage's unique index drops one
    if (!external) expect(await metric('linan_gateway_duplicates_total')).toBe(before + 1);
  });

  describe('at CONNECT', () => {
    const refused = (p: Promise<MqttClient>) => expect(p).rejects.toThrow(/Connection refused: Not authorized/);
    /** Refused and counted by its reason: by the embedded broker at once, reported by Mosquitto's plugin within a second. */
    const refusedAndCounted = async (reason: string, connect: () => Promise<MqttClient>) => {
      const line = `linan_gateway_connect_refused_total{reason="${reason}"}`;
      const before = await metric(line);
      await refused(connect());
      await eventually(async () => (await metric(line)) === before + 1 || undefined, 5000, `the refusal counted as ${reason}`);
    };

    it('refuses an unknown device', async () => {
      await refusedAndCounted('unknown_device', () => connectDevice(h.platform.mqttUrl, 'NO-SUCH-DEVICE', 'whatever'));
    });
    it('refuses a wrong password', async () => {
      const home = await seedHome(h, { aides: 0 });
      await refusedAndCounted('bad_credentials', () => connectDevice(h.platform.mqttUrl, home.serial, `${home.password}x`));
    });
    it('refuses missing credentials', async () => {
      const home = await seedHome(h, { aides: 0 });
      // behind Mosquitto the plugin reports it under the client id it claimed, the device's serial
      await refusedAndCounted('bad_credentials', () => connectDevice(h.platform.mqttUrl, home.serial, undefined, { username: undefined }));
    });
    it('refuses a client id that is not the username', async () => {
      const home = await seedHome(h, { aides: 0 });
      await refusedAndCounted('bad_credentials', () => connectDevice(h.platform.mqttUrl, home.serial, home.password, { clientId: 'someone-else' }));
    });
    it('refuses a registered device that is not installed yet', async () => {
      const dev = await h.http().post('/api/v1/devices').auth(h.adminToken, bearer).send({ serial: `NEW-${Date.now()}`, type: 'sos' }).expect(201);
      await refusedAndCounted('device_not_installed', () => connectDevice(h.platform.mqttUrl, dev.body.serial, dev.body.mqtt.password));
    });
    it('refuses a decommissioned device, and closes its open session', async () => {
      const home = await seedHome(h, { aides: 0 });
      const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
      const closed = new Promise<void>((r) => device.once('close', () => r()));
      await h.http().post(`/api/v1/devices/${home.deviceId}/decommission`).auth(h.adminToken, bearer).expect(200);
      await closed;
      await refusedAndCounted('decommissioned_device', () => connectDevice(h.platform.mqttUrl, home.serial, home.password));
    });
    it('refuses the old secret after a rotation and accepts the new one', async () => {
      const home = await seedHome(h, { aides: 0 });
      const rotated = await h.http().post(`/api/v1/devices/${home.deviceId}/rotate-secret`).auth(h.adminToken, bearer).expect(200);
      await refused(connectDevice(h.platform.mqttUrl, home.serial, home.password));
      const c = await connectDevice(h.platform.mqttUrl, home.serial, rotated.body.mqtt.password);
      c.end(true);
    });
  });

  describe('the per-device ACL', () => {
    it('refuses a publish to another device\'s topic: connection closed, counted, no alert for the other home', async () => {
      const mine = await seedHome(h, { aides: 0 });
      const victim = await seedHome(h, { aides: 0 });
      const before = await metric('linan_gateway_acl_denied_total{action="publish"}');
      const seen = rejected.length;
      const device = await connectDevice(h.platform.mqttUrl, mine.serial, mine.password);
      const closed = new Promise<void>((r) => device.once('close', () => r()));
      const spoofed = sosEvent('spoof-1');
      device.publish(`devices/${victim.serial}/events`, spoofed, { qos: 1 });
      await closed;
      device.end(true);
      // embedded: the broker refuses it at once; Mosquitto (the project's plugin) reports it to the gateway within a second
      const r = await eventually(() => rejected.slice(seen).find((x) => x.serial === mine.serial), 5000, 'the rejected record');
      expect(r).toMatchObject({ reason: 'topic_mismatch', topic: `devices/${victim.serial}/events` });
      expect(Buffer.from(r.payloadBase64, 'base64').toString()).toBe(spoofed);
      expect(await metric('linan_gateway_acl_denied_total{action="publish"}')).toBe(before + 1);
      if (external) await new Promise((done) => setTimeout(done, 300)); // a spoofed event let through would have reached triage by now
      expect(await alertsOf(victim.householdId)).toEqual([]);
    });

    it('refuses a subscription to another device\'s commands and allows its own', async () => {
      const mine = await seedHome(h, { aides: 0 });
      const other = await seedHome(h, { aides: 0 });
      const before = await metric('linan_gateway_acl_denied_total{action="subscribe"}');
      const device = await connectDevice(h.platform.mqttUrl, mine.serial, mine.password);
      // mqtt.js reports a SUBACK carrying a failure code as an error that holds the packet
      const granted = await new Promise<number[]>((resolve) =>
        device.subscribe([`devices/${other.serial}/commands`, `devices/${mine.serial}/commands`], { qos: 1 }, (e, g) =>
          resolve(e ? ((e as Error & { packet?: { granted?: number[] } }).packet?.granted ?? []) : (g ?? []).map((x) => x.qos))));
      device.end(true);
      expect(granted).toEqual([128, 1]);
      // counted at once by the embedded broker; reported by Mosquitto's plugin within about a second
      await eventually(async () => (await metric('linan_gateway_acl_denied_total{action="subscribe"}')) === before + 1 || undefined, 5000, 'the refusal counted');
    });
  });

  describe('presence', () => {
    const devicesOf = async (householdId: string) =>
      (await h.http().get(`/api/v1/households/${householdId}`).auth(h.adminToken, bearer).expect(200)).body.devices as { online: boolean; lastSeenAt: string | null }[];

    it('shows a device online while connected and offline, with the last time heard, after it disconnects', async () => {
      const home = await seedHome(h, { aides: 0 });
      expect(await devicesOf(home.householdId)).toEqual([expect.objectContaining({ online: false, lastSeenAt: null })]);
      const status = `devices/${home.serial}/status`;
      const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password, {
        will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      // Mosquitto does not tell the platform who connects: there the device's own retained "online" and its last
      // will (sent when the connection drops) carry presence, as the contract asks of devices
      if (external) await publishQos1(device, status, 'online');
      await eventually(async () => (await devicesOf(home.householdId))[0].online, 3000, 'online');
      if (external) device.stream.destroy();
      else device.end();
      const after = await eventually(async () => {
        const d = (await devicesOf(home.householdId))[0];
        return d.online ? undefined : d;
      }, 3000, 'offline');
      expect(after.lastSeenAt).toEqual(expect.any(String));
    });

    it('takes an "offline" status (the last will) as offline and a heartbeat as alive', async () => {
      const home = await seedHome(h, { aides: 0 });
      const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
      await publishQos1(device, `devices/${home.serial}/status`, 'offline');
      await eventually(async () => !(await devicesOf(home.householdId))[0].online, 3000, 'offline by status');
      await publishQos1(device, `devices/${home.serial}/heartbeat`, '{}');
      await eventually(async () => (await devicesOf(home.householdId))[0].online, 3000, 'online by heartbeat');
      device.end(true);
    });
  });
});
