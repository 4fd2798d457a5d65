import type { MqttClient } from 'mqtt';
import type { IDisconnectPacket, IPubackPacket, Packet } from 'mqtt-packet';
import { FakeSmsSender, SmsSender } from '@linan/dispatch';
import { Database } from '@linan/platform';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

/**
 * MQTT 5 devices on the embedded broker (aedes behind the MQTT 5 bridge, apps/gateway/src/mqtt5-bridge.ts): the same
 * product as for 3.1.1 devices, with MQTT 5 reason codes where 3.1.1 has none.
 */
describe('an MQTT 5 device on the embedded broker', () => {
  let h: Harness;
  let db: Database;
  const bearer = { type: 'bearer' as const };
  const v5 = { protocolVersion: 5 as const };

  beforeAll(async () => {
    h = await startHarness();
    db = h.platform.app.get(Database);
  });
  afterAll(async () => {
    await h?.close();
  });

  const metric = async (line: string) => {
    const text = (await h.http().get('/metrics').expect(200)).text;
    const m = text.split('\n').find((l) => l.startsWith(line));
    return m ? Number(m.split(' ').pop()) : 0;
  };
  const alertsOf = async (householdId: string) =>
    (await h.http().get(`/api/v1/alerts?status=all&householdId=${householdId}`).auth(h.adminToken, bearer).expect(200)).body.items as { id: string; status: string }[];
  const storedEvents = async (deviceId: string) =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM device_events WHERE device_id = $1', [deviceId]))[0].n);
  const devicesOf = async (householdId: string) =>
    (await h.http().get(`/api/v1/households/${householdId}`).auth(h.adminToken, bearer).expect(200)).body.devices as { online: boolean; lastSeenAt: string | null }[];
  /** Every packet the device receives, as mqtt.js parsed it (MQTT 5: with reason codes). */
  const received = (c: MqttClient) => {
    const packets: Packet[] = [];
    c.on('packetreceive', (p) => packets.push(p as Packet));
    return packets;
  };
  const closed = (c: MqttClient) => new Promise<void>((r) => c.once('close', () => r()));

  it('SOS press at QoS 1: PUBACK with reason 0, a P1 alert, the aides and the family texted', async () => {
    const home = await seedHome(h, { aides: 2 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password, v5);
    const packets = received(device);
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('v5-e1'));
    device.end();
    expect(packets.filter((p) => p.cmd === 'puback')).toEqual([expect.objectContaining({ reasonCode: 0 })]);

    const alert = await eventually(async () => (await alertsOf(home.householdId)).find((a) => a.status === 'dispatched'), 10_000, 'a dispatched alert');
    expect(alert).toMatchObject({ type: 'sos', priority: 'P1', householdId: home.householdId, deviceId: home.deviceId });
    const detail = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(h.adminToken, bearer).expect(200)).body;
    expect(detail.timeline.map((t: { kind: string }) => t.kind).slice(0, 2)).toEqual(['event_received', 'alert_opened']);
    const sms = (h.platform.app.get(SmsSender) as FakeSmsSender).messages().filter((m) => m.text.includes(alert.id.slice(0, 8)));
    expect(sms.map((m) => m.to).sort()).toEqual(['13700001000', '13700001001', '13900001111']);
    const dispatches = (await h.http().get(`/api/v1/dispatches?alertId=${alert.id}`).auth(h.adminToken, bearer).expect(200)).body.items;
    expect(dispatches.filter((d: { channel: string; status: string }) => d.channel === 'sms' && d.status === 'sent')).toHaveLength(3);
  });

  it('a wrong password is refused with CONNACK 0x87 (not authorized) and counted', async () => {
    const home = await seedHome(h, { aides: 0 });
    const before = await metric('linan_gateway_connect_refused_total{reason="bad_credentials"}');
    await expect(connectDevice(h.platform.mqttUrl, home.serial, `${home.password}x`, v5))
      .rejects.toMatchObject({ code: 0x87, message: expect.stringMatching(/Connection refused: Not authorized/) });
    expect(await metric('linan_gateway_connect_refused_total{reason="bad_credentials"}')).toBe(before + 1);
  });

  it('a publish to another device\'s topic: PUBACK 0x87, DISCONNECT 0x87, closed, counted, nothing stored', async () => {
    const mine = await seedHome(h, { aides: 0 });
    const victim = await seedHome(h, { aides: 0 });
    const before = await metric('linan_gateway_acl_denied_total{action="publish"}');
    const rejectedBefore = await metric('linan_gateway_rejected_total{reason="topic_mismatch"}');
    const device = await connectDevice(h.platform.mqttUrl, mine.serial, mine.password, v5);
    const packets = received(device);
    const gone = closed(device);
    const ack = new Promise<Error | undefined>((r) => device.publish(`devices/${victim.serial}/events`, sosEvent('spoof-5'), { qos: 1 }, (e) => r(e)));
    await gone;
    expect(await ack).toEqual(expect.objectContaining({ message: expect.stringMatching(/Not authorized/) }));
    expect(packets.filter((p) => p.cmd === 'puback' || p.cmd === 'disconnect').map((p) => [p.cmd, (p as IPubackPacket | IDisconnectPacket).reasonCode]))
      .toEqual([['puback', 0x87], ['disconnect', 0x87]]);
    device.end(true);
    expect(await metric('linan_gateway_acl_denied_total{action="publish"}')).toBe(before + 1);
    expect(await metric('linan_gateway_rejected_total{reason="topic_mismatch"}')).toBe(rejectedBefore + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await alertsOf(victim.householdId)).toEqual([]);
    expect(await storedEvents(victim.deviceId)).toBe(0);
    expect(await storedEvents(mine.deviceId)).toBe(0);
  });

  it('a subscription to another device\'s commands gets SUBACK 0x87, its own is granted', async () => {
    const mine = await seedHome(h, { aides: 0 });
    const other = await seedHome(h, { aides: 0 });
    const device = await connectDevice(h.platform.mqttUrl, mine.serial, mine.password, v5);
    const packets = received(device);
    await new Promise<void>((r) => device.subscribe([`devices/${other.serial}/commands`, `devices/${mine.serial}/commands`], { qos: 1 }, () => r()));
    expect(packets.find((p) => p.cmd === 'suback')).toMatchObject({ granted: [0x87, 1] });
    // the connection stays open
    await publishQos1(device, `devices/${mine.serial}/heartbeat`, '{}');
    device.end(true);
  });

  it('presence: online on CONNECT, offline by status, alive by heartbeat, offline on disconnect', async () => {
    const home = await seedHome(h, { aides: 0 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password, v5);
    await eventually(async () => (await devicesOf(home.householdId))[0].online, 3000, 'online');
    await publishQos1(device, `devices/${home.serial}/status`, 'offline');
    await eventually(async () => !(await devicesOf(home.householdId))[0].online, 3000, 'offline by status');
    await publishQos1(device, `devices/${home.serial}/heartbeat`, '{"battery":80}');
    await eventually(async () => (await devicesOf(home.householdId))[0].online, 3000, 'online by heartbeat');
    device.end();
    const after = await eventually(async () => {
      const d = (await devicesOf(home.householdId))[0];
      return d.online ? undefined : d;
    }, 3000, 'offline');
    expect(after.lastSeenAt).toEqual(expect.any(String));
  });

  describe('the last will ("offline" on status)', () => {
    const statusMessages = () => metric('linan_gateway_messages_total{channel="status"}');
    const connectWithWill = async () => {
      const home = await seedHome(h, { aides: 0 });
      const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password, {
        ...v5, will: { topic: `devices/${home.serial}/status`, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      return device;
    };

    it('reaches the platform after DISCONNECT 0x04 (disconnect with will message)', async () => {
      const before = await statusMessages();
      const device = await connectWithWill();
      await new Promise<void>((r) => device.end(false, { reasonCode: 0x04 }, () => r()));
      await eventually(async () => (await statusMessages()) === before + 1, 3000, 'the will');
    });

    it('reaches the platform when the connection drops', async () => {
      const before = await statusMessages();
      const device = await connectWithWill();
      device.stream.destroy();
      await eventually(async () => (await statusMessages()) === before + 1, 3000, 'the will');
      device.end(true);
    });

    it('does not after a normal DISCONNECT', async () => {
      const before = await statusMessages();
      const device = await connectWithWill();
      await new Promise<void>((r) => device.end(false, { reasonCode: 0 }, () => r()));
      await new Promise((r) => setTimeout(r, 300));
      expect(await statusMessages()).toBe(before);
    });
  });

  it('decommissioning closes the session with DISCONNECT 0x98 (administrative action)', async () => {
    const home = await seedHome(h, { aides: 0 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password, v5);
    const disconnect = new Promise<IDisconnectPacket>((r) => device.once('disconnect', (p) => r(p as IDisconnectPacket)));
    const gone = closed(device);
    await h.http().post(`/api/v1/devices/${home.deviceId}/decommission`).auth(h.adminToken, bearer).expect(200);
    expect((await disconnect).reasonCode).toBe(0x98);
    await gone;
    await expect(connectDevice(h.platform.mqttUrl, home.serial, home.password, v5)).rejects.toMatchObject({ code: 0x87 });
  });
});
