import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { MqttClient } from 'mqtt';
import { Topics } from '@linan/contracts';
import type { Actor } from '@linan/auth';
import { AuthModule } from '@linan/auth';
import { CreateHouseholdUseCase } from '@linan/people';
import { DecommissionDeviceUseCase, DevicePresence, InstallDeviceUseCase, RegisterDeviceUseCase } from '@linan/devices';
import { Database, HealthRegistry, PlatformModule, type AppConfig, type RootLogger } from '@linan/platform';
import { ALL_ENTITIES } from '@linan/runtime';
import { eventually, silentLogger, startMosquitto, testConfig, tryDeviceConnect, type RunningMosquitto } from '@linan/testing';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { ProvisioningModule } from '../apps/provisioning/src/provisioning.module';

const admin: Actor = { id: 'a1', username: 'root', role: 'admin', district: null };

/**
 * The gateway and provisioning apps as Nest wires them with MQTT_URL set, on the project's Mosquitto, with the
 * embedded database and bus (the Kafka adapter has its own tests): an installer's device gets a broker account,
 * its events reach the bus through the gateway's shared subscription, and decommissioning shuts it out.
 */
describe('gateway and provisioning on Mosquitto (MQTT_URL)', () => {
  let broker: RunningMosquitto;
  let app: INestApplication;
  const devices: MqttClient[] = [];

  const health = async (name: string) => {
    const probe = app.get(HealthRegistry).entries().find(([n]) => n === name);
    return probe ? (await probe[1]()).up : undefined;
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    const base = testConfig();
    const config: AppConfig = { ...base, mqtt: { ...base.mqtt, url: broker.serviceUrl, clientId: 'linan-gateway-wiring' } };
    const moduleRef = await Test.createTestingModule({
      imports: [
        PlatformModule.forRoot({ config, logger: silentLogger as unknown as RootLogger, entities: ALL_ENTITIES }),
        AuthModule, GatewayModule, ProvisioningModule,
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.endAsync(true)));
    await app?.close();
    await broker?.stop();
  });

  it('reports the gateway subscription and the provisioning admin connection on /health once they are up', async () => {
    await eventually(async () => (await health('mqtt')) && (await health('mqtt-admin')), 10_000, 'mqtt and mqtt-admin up');
  });

  it('carries an installed device from registration to an event on the bus, and shuts it out when decommissioned', async () => {
    const household = await app.get(CreateHouseholdUseCase).execute(admin, {
      name: '王阿姨', phone: '13812345678', address: '厦门市思明区莲前西路1号', district: '思明区', street: '莲前街道',
      community: '莲花社区', subsidyCategory: 'living_alone', funding: 'government',
    });
    const { device, mqtt } = await app.get(RegisterDeviceUseCase).execute({ serial: 'WIRE-1', type: 'sos' });
    await app.get(InstallDeviceUseCase).execute(admin, device.id, household.id);

    const r = await tryDeviceConnect(broker.url, { clientId: 'WIRE-1', username: 'WIRE-1', password: mqtt!.password });
    if (!r.ok) throw new Error(r.message);
    devices.push(r.client);
    await r.client.publishAsync('devices/WIRE-1/status', 'online', { qos: 1, retain: true });
    await r.client.publishAsync('devices/WIRE-1/events', JSON.stringify({ id: 'sos-1', type: 'sos', ts: Date.now() }), { qos: 1 });

    const db = app.get(Database);
    const stored = await eventually(async () => {
      const rows = await db.query<{ value: string }>('SELECT value FROM bus_log WHERE topic = $1', [Topics.deviceEvents]);
      return rows.length ? rows : undefined;
    }, 10_000, 'the SOS on the device-events topic');
    expect(JSON.parse(stored[0].value)).toMatchObject({ payload: { serial: 'WIRE-1', deviceEventId: 'sos-1', householdId: household.id } });
    expect((await app.get(DevicePresence).of(['WIRE-1'])).get('WIRE-1')).toMatchObject({ online: true });

    await app.get(DecommissionDeviceUseCase).execute(admin, device.id);
    await eventually(() => !r.client.connected, 3000, 'the device session closed');
    expect(await tryDeviceConnect(broker.url, { clientId: 'WIRE-1', username: 'WIRE-1', password: mqtt!.password })).toMatchObject({ ok: false });
  });
});
