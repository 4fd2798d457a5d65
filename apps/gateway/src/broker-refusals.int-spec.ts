import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { BROKER_REFUSALS_TOPIC, type BrokerRefusal, type DeviceMessage, type IngestOutcome } from '@linan/devices';
import { deviceAclPlugin, eventually, freePort, mosquittoWithDevices, silentLogger, tryDeviceConnect } from '@linan/testing';
import { DeviceLookup } from './device-lookup';
import { MosquittoSubscriber } from './mosquitto-subscriber';

/**
 * The project's Mosquitto plugin (deploy/mosquitto/plugin) with the gateway: a device's packets outside its own topics
 * are refused as before, and now reported, so the gateways count them (CONTRACT: "refused by the broker ... and
 * counted"); so are the connections Mosquitto refused. On the project's Mosquitto config, as shipped.
 */
class Ingest {
  readonly stored: DeviceMessage[] = [];
  async execute(msg: DeviceMessage): Promise<IngestOutcome> {
    this.stored.push(msg);
    return { kind: 'accepted', eventId: `ev-${this.stored.length}` };
  }
}

/** Stands in for RecordBrokerRefusalsUseCase: keeps the reports; can fail on command, as when Kafka cannot take one. */
class Refusals {
  readonly reports: BrokerRefusal[] = [];
  failures = 0;
  async execute(r: BrokerRefusal): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('bus unavailable');
    }
    this.reports.push(r);
  }
}

const b64 = (text: string) => Buffer.from(text).toString('base64');

const registry = new DeviceLookup({ findBySerials: async () => [] });
const sum = (rs: BrokerRefusal[]) => rs.reduce((n, r) => n + r.count, 0);

describe('Mosquitto refusals reported by the linan_device_acl plugin', () => {
  const fx = mosquittoWithDevices(['RF-1', 'RF-2', 'RF-3']);

  const gateway = (clientId: string, refusals = new Refusals()) => {
    const ingest = new Ingest();
    const s = fx.start(new MosquittoSubscriber(
      { url: fx.broker.serviceUrl, clientId, shareGroup: `r${fx.group}`, sessionExpirySeconds: 60, reconnectPeriodMs: 100 },
      ingest, registry, silentLogger, refusals,
    ));
    return { s, reports: refusals.reports, ingest, refusals };
  };
  const online = (serial: string, protocolVersion: 4 | 5 = 5) => fx.online(serial, { protocolVersion });

  it('reports a publish to another device\'s topic (MQTT 5 and 3.1.1): refused as before, the other home gets nothing', async () => {
    const { s, reports, ingest } = gateway('gw-a');
    await s.whenReady();
    const v5 = await online('RF-1', 5);
    await expect(v5.publishAsync('devices/RF-2/events', '{"id":"spoof-5"}', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    const v4 = await online('RF-3', 4);
    // MQTT 3.1.1 has no reason codes: the device gets its PUBACK and the message goes nowhere
    await v4.publishAsync('devices/RF-2/heartbeat', '{}', { qos: 1 }).catch(() => undefined);
    await eventually(() => (sum(reports) >= 2 ? reports : undefined), 5000, 'two refusals reported');
    // with the refused message itself, which the gateway keeps on the rejected-events topic
    expect(reports).toEqual(expect.arrayContaining([
      { clientId: 'RF-1', action: 'publish', count: 1, topic: 'devices/RF-2/events', payloadBase64: b64('{"id":"spoof-5"}') },
      { clientId: 'RF-3', action: 'publish', count: 1, topic: 'devices/RF-2/heartbeat', payloadBase64: b64('{}') },
    ]));
    expect(ingest.stored).toEqual([]);
    expect(await fx.broker.logTail(200)).toMatch(/linan: refused 1 publish packet\(s\) of device RF-1 outside its own topics \(first: devices\/RF-2\/events\)/);
  });

  it('reports a topic with quotes, backslashes and Chinese as it was, and a long one cut to 200 bytes at a character', async () => {
    const { s, reports } = gateway('gw-t');
    await s.whenReady();
    const odd = 'devices/RF-2/"引号"\\反斜杠';
    const long = `devices/RF-2/${'报警'.repeat(100)}`;
    // 13 bytes of prefix and 3 bytes a character: 62 whole characters fit in 200 bytes
    const cut = `devices/RF-2/${'报警'.repeat(31)}`;
    for (const [topic, reported] of [[odd, odd], [long, cut]]) {
      const d = await online('RF-1');
      await d.publishAsync(topic, '{}', { qos: 0 }).catch(() => undefined);
      // one report per device and second carries the first topic only: wait for this one before the next
      expect(await eventually(() => reports.find((r) => r.topic === reported), 5000, `the report of ${topic.slice(0, 24)}…`))
        .toEqual({ clientId: 'RF-1', action: 'publish', count: 1, topic: reported, payloadBase64: b64('{}') });
    }
  });

  it('reports refused connections by the user name tried (a wrong secret, an unknown one, another client id), or by the client id of one without a user name', async () => {
    const { s, reports } = gateway('gw-conn');
    await s.whenReady();
    const attempts: { clientId: string; username?: string; password?: string; protocolVersion?: 4 | 5 }[] = [
      { clientId: 'RF-1', username: 'RF-1', password: 'wrong' },
      { clientId: 'RF-1', username: 'RF-1', password: 'wrong', protocolVersion: 4 },
      { clientId: 'NOT-REGISTERED', username: 'NOT-REGISTERED', password: 'x' },
      { clientId: 'someone-else', username: 'RF-2', password: 'secret-RF-2' },
      // no user name: reported under the client id it claimed (a device set up without its credentials, or a stranger)
      { clientId: 'anonymous-1' },
      { clientId: 'RF-3', protocolVersion: 4 },
      // the platform's own account with a wrong password: Mosquitto's log says so, the devices' figures do not
      { clientId: 'linan-service-wrong', username: fx.broker.service.username, password: 'wrong' },
    ];
    for (const a of attempts) expect(await tryDeviceConnect(fx.broker.url, a)).toMatchObject({ ok: false });
    // and a bare TCP connection, closed without a CONNECT (a load balancer's check): not a refusal
    await new Promise<void>((done) => createConnection({ port: fx.broker.port, host: '127.0.0.1' }, function (this: Socket) {
      this.end();
      done();
    }));
    await eventually(() => (sum(reports) >= 6 ? reports : undefined), 5000, 'six refusals reported');
    await new Promise((done) => setTimeout(done, 1200)); // the others would have come by now
    const byUser = new Map<string, number>();
    for (const r of reports) byUser.set(r.clientId, (byUser.get(r.clientId) ?? 0) + r.count);
    expect(reports.every((r) => r.action === 'connect' && r.topic === '')).toBe(true);
    expect(Object.fromEntries(byUser)).toEqual({ 'RF-1': 2, 'NOT-REGISTERED': 1, 'RF-2': 1, 'anonymous-1': 1, 'RF-3': 1 });
    expect(await fx.broker.logTail(100)).toMatch(/linan: refused a connection of the platform account linan/);
  });

  it('does not acknowledge a report it could not keep: the broker sends it again', async () => {
    const refusals = new Refusals();
    refusals.failures = 1;
    const { s, reports } = gateway('gw-r', refusals);
    await s.whenReady();
    await (await online('RF-3')).subscribeAsync('devices/RF-2/commands').catch(() => undefined);
    await eventually(() => (reports.length ? reports : undefined), 10_000, 'the report, the second time');
    expect(refusals.failures).toBe(0);
    expect(reports).toEqual([{ clientId: 'RF-3', action: 'subscribe', count: 1, topic: 'devices/RF-2/commands' }]);
  });

  it('reports a subscription to another device\'s commands, and not the device\'s own', async () => {
    const { s, reports } = gateway('gw-b');
    await s.whenReady();
    const d = await online('RF-1');
    const granted = await d.subscribeAsync(['devices/RF-2/commands', 'devices/RF-1/commands'])
      .then((g) => g.map((x) => x.qos), (e: { packet?: { granted: number[] } }) => e.packet?.granted);
    expect(granted).toEqual([0x87, 0]);
    await eventually(() => (reports.length ? reports : undefined), 5000, 'the refusal reported');
    expect(reports).toEqual([{ clientId: 'RF-1', action: 'subscribe', count: 1, topic: 'devices/RF-2/commands' }]);
  });

  it('gathers a stream of refusals into reports of about one a second, and lets the device\'s own messages through', async () => {
    const { s, reports, ingest } = gateway('gw-c');
    await s.whenReady();
    // Mosquitto closes a connection after a refused publish, so a misbehaving device sends one per connection
    for (let i = 0; i < 40; i++) {
      const d = await online('RF-2', i % 2 ? 4 : 5);
      await d.publishAsync(`devices/RF-1/events/${i}`, '{}', { qos: 0 }).catch(() => undefined);
      await new Promise<void>((done) => (d.connected ? d.once('close', () => done()) : done()));
    }
    const own = await online('RF-2');
    await own.publishAsync('devices/RF-2/events', '{"id":"own"}', { qos: 1 });
    await eventually(() => (sum(reports) >= 40 ? reports : undefined), 5000, '40 refusals reported');
    expect(sum(reports)).toBe(40);
    expect(reports.length).toBeLessThan(40);
    expect(reports[0]).toMatchObject({ clientId: 'RF-2', action: 'publish', topic: 'devices/RF-1/events/0', payloadBase64: b64('{}') });
    await eventually(() => ingest.stored.length || undefined, 5000, 'the device\'s own event');
    expect(ingest.stored.map((m) => m.topic)).toEqual(['devices/RF-2/events']);
  });

  it('counts each report once across the gateway replicas of a share group', async () => {
    const one = gateway('gw-d1');
    const two = gateway('gw-d2');
    await Promise.all([one.s.whenReady(), two.s.whenReady()]);
    for (const serial of ['RF-1', 'RF-2', 'RF-3']) {
      const d = await online(serial);
      await d.subscribeAsync('devices/+/commands').catch(() => undefined);
    }
    await eventually(() => ([...one.reports, ...two.reports].filter((r) => r.topic === 'devices/+/commands').length >= 3 || undefined), 5000, 'three refusals reported');
    await new Promise((r) => setTimeout(r, 1500)); // a second report of any of them would have come by now
    // (a report of an earlier test can arrive here too: the broker publishes each to every share group)
    const mine = [...one.reports, ...two.reports].filter((r) => r.topic === 'devices/+/commands');
    expect(mine.map((r) => r.clientId).sort()).toEqual(['RF-1', 'RF-2', 'RF-3']);
  });

  it('does not report the platform\'s own traffic: the service account sends a command to a device', async () => {
    const { s, reports } = gateway('gw-e');
    await s.whenReady();
    const device = await online('RF-3');
    await device.subscribeAsync('devices/RF-3/commands', { qos: 1 });
    const got = new Promise<string>((r) => device.once('message', (_t, p) => r(p.toString())));
    const r = await tryDeviceConnect(fx.broker.url, { clientId: 'linan-service-test', ...fx.broker.service });
    if (!r.ok) throw new Error(r.message);
    fx.keep(r.client);
    await r.client.publishAsync('devices/RF-3/commands', '{"command":"selftest"}', { qos: 1 });
    expect(await got).toBe('{"command":"selftest"}');
    await new Promise((done) => setTimeout(done, 1500));
    expect(reports).toEqual([]);
  });

  it('lets no client publish a report: not a device, not the platform\'s service account', async () => {
    const { s, reports } = gateway('gw-f');
    await s.whenReady();
    const forged = JSON.stringify({ clientId: 'RF-9', action: 'publish', count: 1000, topic: 'x' });
    const d = await online('RF-1');
    await expect(d.publishAsync(BROKER_REFUSALS_TOPIC, forged, { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    const r = await tryDeviceConnect(fx.broker.url, { clientId: 'linan-service-forger', ...fx.broker.service });
    if (!r.ok) throw new Error(r.message);
    fx.keep(r.client);
    await expect(r.client.publishAsync(BROKER_REFUSALS_TOPIC, forged, { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
    // the device's attempt is itself a refusal, reported as such; the forged count is nowhere
    await eventually(() => (reports.length ? reports : undefined), 5000, 'the device\'s refusal reported');
    expect(reports).toEqual([{ clientId: 'RF-1', action: 'publish', count: 1, topic: BROKER_REFUSALS_TOPIC, payloadBase64: b64(forged) }]);
  });

  it('on a broker set up before the reports: takes device messages, warns, and takes reports once the documented grants are added', async () => {
    const ctrl = (...args: string[]) => new Promise<string>((done, fail) => execFile('mosquitto_ctrl',
      ['-h', '127.0.0.1', '-p', String(fx.broker.port), '-u', fx.broker.admin.username, '-P', fx.broker.admin.password, 'dynsec', ...args],
      { timeout: 10_000 }, (err, out) => (err ? fail(err) : done(out))));
    const grants = [['subscribePattern', `$share/+/${BROKER_REFUSALS_TOPIC}`], ['publishClientReceive', BROKER_REFUSALS_TOPIC]];
    for (const [type, topic] of grants) await ctrl('removeRoleACL', 'linan-gateway', type, topic);
    try {
      const warnings: string[] = [];
      const log = silentLogger.child({});
      log.warn = ((_o: unknown, msg?: string) => void warnings.push(msg ?? '')) as typeof log.warn;
      const ingest = new Ingest();
      const refusals = new Refusals();
      const reports = refusals.reports;
      const old = fx.start(new MosquittoSubscriber(
        { url: fx.broker.serviceUrl, clientId: 'gw-old', shareGroup: `r${fx.group}`, sessionExpirySeconds: 60, reconnectPeriodMs: 100 },
        ingest, registry, log, refusals,
      ));
      await old.whenReady();
      await eventually(() => warnings.some((w) => /refused the subscription to its reports/.test(w)) || undefined, 5000, 'the warning');
      const d = await online('RF-1');
      await d.publishAsync('devices/RF-1/events', '{"id":"still-taken"}', { qos: 1 });
      await eventually(() => ingest.stored.length === 1 || undefined, 5000, 'the device message taken');
      // the documented commands (docs/deployment.md), then the gateway reconnects
      for (const [type, topic] of grants) await ctrl('addRoleACL', 'linan-gateway', type, topic, 'allow');
      await old.stop();
      old.start();
      await old.whenReady();
      await (await online('RF-2')).subscribeAsync('devices/RF-1/commands').catch(() => undefined);
      await eventually(() => (reports.length ? reports : undefined), 5000, 'the refusal reported after the grants');
      expect(reports).toEqual([{ clientId: 'RF-2', action: 'subscribe', count: 1, topic: 'devices/RF-1/commands' }]);
    } finally {
      // as shipped again for the other tests, whatever happened
      for (const [type, topic] of grants) await ctrl('addRoleACL', 'linan-gateway', type, topic, 'allow').catch(() => undefined);
    }
  });

  it('stops Mosquitto at start with a clear message when the plugin is misconfigured', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'linan-acl-conf-'));
    try {
      const conf = join(dir, 'bad.conf');
      await writeFile(conf, [
        `listener ${await freePort()} 127.0.0.1`, 'allow_anonymous false', `user ${userInfo().username}`,
        `plugin ${await deviceAclPlugin()}`, 'plugin_opt_report_topic devices/#', `log_dest file ${join(dir, 'log')}`, '',
      ].join('\n'));
      const code = await new Promise<number | null>((done) => spawn('mosquitto', ['-c', conf], { stdio: 'ignore' }).once('exit', done));
      expect(code).not.toBe(0);
      expect(await readFile(join(dir, 'log'), 'utf8')).toMatch(/plugin_opt_report_topic must be a plain topic, not devices\/#/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
