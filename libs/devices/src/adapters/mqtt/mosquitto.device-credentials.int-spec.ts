import type { MqttClient } from 'mqtt';
import { ScryptPasswordHasher, type Actor } from '@linan/auth';
import { DomainError, SystemClock, type OpenedDatabase } from '@linan/platform';
import type { GetHouseholdUseCase } from '@linan/people';
import { tryDeviceConnect, eventually, openTestDatabase, silentLogger, startMosquitto, type RunningMosquitto } from '@linan/testing';
import { DecommissionDeviceUseCase, RegisterDeviceUseCase, RotateDeviceSecretUseCase } from '../../application/device.use-cases';
import { ReconcileDeviceCredentialsUseCase } from '../../application/reconcile-device-credentials.use-case';
import type { DeviceCredentialsDirectory } from '../../application/ports/device-credentials-directory';
import { DeviceOrmEntity } from '../device.orm-entity';
import { TypeOrmDeviceRepository } from '../typeorm.device.repository';
import { InProcessDeviceSessions } from '../in-process.device-sessions';
import { FakeDeviceCredentials } from '../fake.device-credentials';
import { MosquittoDeviceCredentials } from './mosquitto.device-credentials';

/** What Mosquitto 2.0.11 answers an MQTT 5 client with for wrong credentials and for an ACL refusal alike. */
const NOT_AUTHORIZED = 0x87;

const admin: Actor = { id: 'a1', username: 'root', role: 'admin', district: null };

/** Registry (PGlite) and broker (the project's Mosquitto) kept in step by the device use cases. */
describe(MosquittoDeviceCredentials.name, () => {
  let broker: RunningMosquitto;
  let directory: MosquittoDeviceCredentials;
  let opened: OpenedDatabase;
  let repo: TypeOrmDeviceRepository;
  const hasher = new ScryptPasswordHasher({ N: 1024, r: 8, p: 1 });
  const clients: MqttClient[] = [];

  const useCases = (credentials: DeviceCredentialsDirectory) => {
    const sessions = new InProcessDeviceSessions();
    const households = {} as GetHouseholdUseCase; // devices here are not in a household: never asked
    const registerOnly = new RegisterDeviceUseCase(repo, hasher, new SystemClock(), opened.database, credentials);
    return {
      registerOnly,
      /** Registered, then installed as InstallDeviceUseCase does it (status active, broker account enabled). */
      register: {
        execute: async (input: Parameters<RegisterDeviceUseCase['execute']>[0]) => {
          const r = await registerOnly.execute(input);
          await repo.update(r.device.id, { status: 'active', installedAt: new Date() });
          await credentials.enable(r.device.serial);
          return { ...r, device: { ...r.device, status: 'active' as const } };
        },
      },
      rotate: new RotateDeviceSecretUseCase(repo, households, hasher, sessions, opened.database, credentials),
      decommission: new DecommissionDeviceUseCase(repo, households, sessions, new SystemClock(), opened.database, credentials),
      reconcile: new ReconcileDeviceCredentialsUseCase(repo, credentials),
    };
  };

  const connect = async (serial: string, password: string, o: { clientId?: string; protocolVersion?: 4 | 5 } = {}) => {
    const r = await tryDeviceConnect(broker.url, { clientId: o.clientId ?? serial, username: serial, password, protocolVersion: o.protocolVersion });
    if (r.ok) clients.push(r.client);
    return r;
  };
  const closed = (c: MqttClient) => new Promise<void>((resolve, reject) => {
    if (!c.connected) return resolve();
    const timer = setTimeout(() => reject(new Error('the live session was not closed by the broker')), 3000);
    c.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  beforeAll(async () => {
    [broker, opened] = await Promise.all([startMosquitto(), openTestDatabase({}, [DeviceOrmEntity])]);
    repo = new TypeOrmDeviceRepository(opened.database);
    directory = new MosquittoDeviceCredentials({ url: broker.serviceUrl, clientId: 'linan-admin-test', timeoutMs: 3000 }, silentLogger);
    await directory.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  afterAll(async () => {
    await directory?.close();
    await opened?.close();
    await broker?.stop();
  });

  it('refuses a registered device until it is installed', async () => {
    const { registerOnly } = useCases(directory);
    const { mqtt } = await registerOnly.execute({ serial: 'SN-0000', type: 'sos' });
    expect(await connect('SN-0000', mqtt!.password)).toMatchObject({ ok: false });
    await directory.enable('SN-0000');
    expect(await connect('SN-0000', mqtt!.password)).toMatchObject({ ok: true });
  });

  it('lets an installed device connect with its secret and refuses a wrong password, over MQTT 5 and 3.1.1', async () => {
    const { register } = useCases(directory);
    const { mqtt } = await register.execute({ serial: 'SN-0001', type: 'sos' });
    expect(mqtt).toEqual({ clientId: 'SN-0001', username: 'SN-0001', password: expect.any(String) });

    expect(await connect('SN-0001', mqtt!.password)).toMatchObject({ ok: true });
    expect(await connect('SN-0001', mqtt!.password, { protocolVersion: 4 })).toMatchObject({ ok: true });
    expect(await connect('SN-0001', 'wrong')).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await connect('SN-0001', 'wrong', { protocolVersion: 4 })).toMatchObject({ ok: false, code: 5 });
    expect(await connect('SN-unknown', 'x')).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
  });

  it('binds the client id to the serial: the right secret under another client id is refused', async () => {
    const { register } = useCases(directory);
    const { mqtt } = await register.execute({ serial: 'SN-0002', type: 'smoke' });
    expect(await connect('SN-0002', mqtt!.password, { clientId: 'someone-else' })).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await connect('SN-0002', mqtt!.password, { clientId: 'someone-else', protocolVersion: 4 })).toMatchObject({ ok: false, code: 5 });
  });

  it('lets a device publish and subscribe only under its own topics: MQTT 5 PUBACK 0x87 otherwise, and the connection closes', async () => {
    const { register } = useCases(directory);
    const { mqtt } = await register.execute({ serial: 'SN-0003', type: 'sos' });
    await register.execute({ serial: 'SN-0004', type: 'sos' });
    const online = async () => {
      const r = await connect('SN-0003', mqtt!.password);
      if (!r.ok) throw new Error(r.message);
      return r.client;
    };
    const c = await online();
    await c.publishAsync('devices/SN-0003/events', '{}', { qos: 1 });
    await c.publishAsync('devices/SN-0003/heartbeat', '{}', { qos: 1 });
    await c.publishAsync('devices/SN-0003/status', 'online', { qos: 1, retain: true });
    const suback = await c.subscribeAsync(['devices/SN-0003/commands', 'devices/SN-0004/commands', 'devices/+/events'])
      .then(() => null, (e: { packet?: { granted: number[] } }) => e.packet?.granted);
    expect(suback).toEqual([0, NOT_AUTHORIZED, NOT_AUTHORIZED]);
    expect(c.connected).toBe(true);

    // spoofing another device: refused with a reason code, and Mosquitto 2.0.11 then drops the connection
    await expect(c.publishAsync('devices/SN-0004/events', '{}', { qos: 1 })).rejects.toMatchObject({ code: NOT_AUTHORIZED });
    await closed(c);
    for (const own of ['devices/SN-0003', 'devices/SN-0003/foo', 'devices/SN-0003/events/deeper', 'devices/SN-0003/commands']) {
      await expect((await online()).publishAsync(own, '{}', { qos: 1 })).rejects.toMatchObject({ code: NOT_AUTHORIZED });
    }
  });

  it('lets the platform service account send commands to devices but not publish as one', async () => {
    const r = await tryDeviceConnect(broker.url, { clientId: 'linan-test-service', ...broker.service });
    if (!r.ok) throw new Error(r.message);
    clients.push(r.client);
    await r.client.publishAsync('devices/SN-0001/commands', '{"command":"selftest"}', { qos: 1 });
    await expect(r.client.publishAsync('devices/SN-0001/events', '{}', { qos: 1 })).rejects.toMatchObject({ code: NOT_AUTHORIZED });
  });

  it('rotating the secret closes the live session, refuses the old secret and accepts the new one', async () => {
    const { register, rotate } = useCases(directory);
    const { device, mqtt } = await register.execute({ serial: 'SN-0005', type: 'fall' });
    const live = await connect('SN-0005', mqtt!.password);
    if (!live.ok) throw new Error(live.message);
    const fresh = await rotate.execute(admin, device.id);
    await closed(live.client);
    expect(await connect('SN-0005', mqtt!.password)).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await connect('SN-0005', fresh.password)).toMatchObject({ ok: true });
  });

  it('decommissioning closes the live session and refuses the device from then on', async () => {
    const { register, decommission } = useCases(directory);
    const { device, mqtt } = await register.execute({ serial: 'SN-0006', type: 'gas' });
    const live = await connect('SN-0006', mqtt!.password, { protocolVersion: 4 });
    if (!live.ok) throw new Error(live.message);
    await decommission.execute(admin, device.id);
    await closed(live.client);
    expect(await connect('SN-0006', mqtt!.password)).toMatchObject({ ok: false, code: NOT_AUTHORIZED });
    expect(await directory.listSerials()).not.toContain('SN-0006');
  });

  it('fails the call with DEVICE.BROKER_UNAVAILABLE and leaves the registry unchanged when the broker does not answer', async () => {
    const down = new MosquittoDeviceCredentials({ url: 'mqtt://linan:x@127.0.0.1:1', clientId: 'down', timeoutMs: 300 }, silentLogger);
    try {
      const { register } = useCases(down);
      const err = await register.execute({ serial: 'SN-0007', type: 'sos' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect(err).toMatchObject({ code: 'DEVICE.BROKER_UNAVAILABLE', kind: 'unavailable' });
      expect(await repo.findBySerial('SN-0007')).toBeNull();
    } finally {
      await down.close();
    }
    // and the serial is free to register once the broker answers
    const { mqtt } = await useCases(directory).register.execute({ serial: 'SN-0007', type: 'sos' });
    expect(await connect('SN-0007', mqtt!.password)).toMatchObject({ ok: true });
  });

  it('rolls back rotation and decommissioning when the broker fails, so registry and broker still agree', async () => {
    const fake = new FakeDeviceCredentials();
    const { register, rotate, decommission } = useCases(fake);
    const { device, mqtt } = await register.execute({ serial: 'SN-0008', type: 'sos' });
    fake.failNext();
    await expect(rotate.execute(admin, device.id)).rejects.toMatchObject({ code: 'DEVICE.BROKER_UNAVAILABLE' });
    const stored = await repo.findBySerial('SN-0008');
    expect(await hasher.verify(mqtt!.password, stored!.secretHash!)).toBe(true);
    expect(fake.accounts.get('SN-0008')).toBe(mqtt!.password);
    fake.failNext();
    await expect(decommission.execute(admin, device.id)).rejects.toMatchObject({ code: 'DEVICE.BROKER_UNAVAILABLE' });
    expect(await repo.findBySerial('SN-0008')).toMatchObject({ status: 'active', secretHash: stored!.secretHash });
    expect(fake.accounts.has('SN-0008')).toBe(true);
  });

  it('reconciles: removes accounts the registry does not know or has decommissioned, reports devices without one', async () => {
    const { register, reconcile } = useCases(directory);
    await directory.upsert('SN-orphan', 'orphan-secret'); // e.g. a registration whose commit failed after the broker took it
    const { device } = await register.execute({ serial: 'SN-0009', type: 'sos' });
    await directory.revoke('SN-0009'); // e.g. a broker volume restored from an old backup
    await repo.update(device.id, { status: 'registered' });
    const decommissioned = await register.execute({ serial: 'SN-0010', type: 'sos' });
    await repo.update(decommissioned.device.id, { status: 'decommissioned', secretHash: null }); // broker not told

    const report = await reconcile.execute({ graceMs: 0 });
    expect(report!.revoked.sort()).toEqual(['SN-0010', 'SN-orphan']);
    expect(report!.missing).toContain('SN-0009');
    const left = await directory.listSerials();
    expect(left).not.toContain('SN-orphan');
    expect(left).not.toContain('SN-0010');
    expect(await connect('SN-orphan', 'orphan-secret')).toMatchObject({ ok: false });
    await eventually(async () => (await reconcile.execute({ graceMs: 0 }))!.revoked.length === 0, 2000, 'a second pass with nothing to do');
  });
});
