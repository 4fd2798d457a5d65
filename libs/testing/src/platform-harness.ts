import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import request from 'supertest';
import type { RawEnv } from '@linan/platform';
import { silentLogger } from './test-platform';
import { realServicesRequested, startServices, type ServiceSet } from './real-services';
import { startEmbedded, type RunningPlatform, type StartOptions } from '../../../apps/embedded/src/embedded';

export const ADMIN_PASSWORD = 'test-admin-pw';

export interface Harness {
  platform: RunningPlatform;
  /** The real services under the platform when the suite runs with TEST_SERVICES=real; undefined when embedded. */
  services?: ServiceSet;
  adminToken: string;
  http: () => ReturnType<typeof request>;
  /** Logs in a new user of the role (created by the admin) and returns the token. */
  tokenFor(role: 'operator' | 'installer' | 'aide', district?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The whole platform in this process, on free ports: on the embedded parts (in-memory database), or with
 * TEST_SERVICES=real on real services of its own (see startServices).
 */
export async function startHarness(env: RawEnv = {}, options: StartOptions = {}): Promise<Harness> {
  const services = realServicesRequested() ? await startServices() : undefined;
  let platform: RunningPlatform;
  try {
    platform = await startEmbedded({
      PORT: '0', MQTT_PORT: '0', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', DATA_DIR: 'memory://',
      ADMIN_PASSWORD, JWT_SECRET: 'j'.repeat(40), LOGIN_ATTEMPTS_PER_MINUTE: '10000', BUS_POLL_MS: '50', TIMER_POLL_MS: '100',
      ...services?.env, ...env,
    }, { logger: silentLogger as never, ...options });
  } catch (e) {
    await services?.close();
    throw e;
  }
  if (services) platform = { ...platform, mqttUrl: services.deviceMqttUrl, mqttPort: Number(new URL(services.deviceMqttUrl).port) };
  const http = () => request(platform.httpUrl);
  const login = async (username: string, password: string) =>
    (await http().post('/api/v1/auth/login').send({ username, password }).expect(200)).body.accessToken as string;
  const adminToken = await login('admin', ADMIN_PASSWORD);
  let n = 0;
  return {
    platform, services, adminToken, http,
    async tokenFor(role, district) {
      const username = `${role}${++n}`;
      await http().post('/api/v1/users').auth(adminToken, { type: 'bearer' })
        .send({ username, displayName: username, password: 'password-123', role, district }).expect(201);
      return login(username, 'password-123');
    },
    close: async () => {
      await platform.close();
      await services?.close();
    },
  };
}

export const householdBody = (over: Record<string, unknown> = {}) => ({
  name: '张三丰', phone: '13812345678', address: '厦门市思明区莲前西路100号3单元502', district: '思明区', street: '莲前街道',
  community: '莲花社区', subsidyCategory: 'living_alone', funding: 'government',
  contacts: [{ name: '张丽', phone: '13900001111', relation: '女儿' }], ...over,
});

export interface SeededHome {
  householdId: string;
  deviceId: string;
  serial: string;
  password: string;
  aideIds: string[];
}

let serialSeq = 0;

/** A household with an installed SOS button and on-duty aides in its community, through the public API. */
export async function seedHome(h: Harness, opts: { aides?: number; serial?: string; household?: Record<string, unknown> } = {}): Promise<SeededHome> {
  const auth = { type: 'bearer' as const };
  const hh = await h.http().post('/api/v1/households').auth(h.adminToken, auth).send(householdBody(opts.household)).expect(201);
  const serial = opts.serial ?? `SOS-${process.pid}-${++serialSeq}`;
  const dev = await h.http().post('/api/v1/devices').auth(h.adminToken, auth).send({ serial, type: 'sos' }).expect(201);
  await h.http().post(`/api/v1/devices/${dev.body.id}/install`).auth(h.adminToken, auth).send({ householdId: hh.body.id }).expect(200);
  const aideIds: string[] = [];
  for (let i = 0; i < (opts.aides ?? 2); i++) {
    const a = await h.http().post('/api/v1/aides').auth(h.adminToken, auth)
      .send({ name: `助老员${i + 1}`, phone: `1370000${String(1000 + i)}`, district: hh.body.district, street: hh.body.street, community: hh.body.community, onDuty: true })
      .expect(201);
    aideIds.push(a.body.id);
  }
  return { householdId: hh.body.id, deviceId: dev.body.id, serial, password: dev.body.mqtt.password, aideIds };
}

export function connectDevice(url: string, serial: string, password: string | undefined, extra: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId: serial, username: serial, password, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
    c.once('close', () => reject(new Error('connection closed before CONNACK')));
  });
}

export function publishQos1(c: MqttClient, topic: string, payload: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, payload, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
}

export const sosEvent = (id: string, ts = Date.now(), extra: Record<string, unknown> = {}) => JSON.stringify({ id, type: 'sos', ts, ...extra });
