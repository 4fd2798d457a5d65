/**
 * Support for the distributed-mode end-to-end specs: services of their own, each app as its own process, an admin
 * signed in on the provisioning and console APIs, and homes seeded and pressed as installers and elders would.
 */
import type { MqttClient } from 'mqtt';
import {
  AppApi, connectDevice, eventually, householdBody, publishQos1, startAppProcesses, startDistributedServices, startAppProcess, startTcpProxy,
  type AppProcess, type AppProcessSpec, type DistributedServices, type TcpProxy,
} from '@linan/testing';

export const ADMIN_PASSWORD = 'distributed-admin-pw';

/** Settings every app of the stack shares (one JWT secret, so a token from one app works on all). */
export const STACK_SETTINGS: Record<string, string> = {
  ADMIN_PASSWORD, JWT_SECRET: 'd'.repeat(40), LOGIN_ATTEMPTS_PER_MINUTE: '10000',
  // no escalation round during a test: the dispatches counted are the first call-out's
  ESCALATION_ACK_TIMEOUT_S: '3600', CONSUMER_RETRY_BASE_MS: '50',
};

export interface Stack {
  services: DistributedServices;
  /** The shared environment: services and settings. */
  env: Record<string, string>;
  apps: Map<string, AppProcess>;
  app(name: string): AppProcess;
  /** Starts one more process on the stack's services (a replica, a restarted app). */
  add(spec: AppProcessSpec): Promise<AppProcess>;
  provisioning: AppApi;
  console: AppApi;
  devices: MqttClient[];
  /** With `databaseProxy`: what stands between the apps and PostgreSQL, to cut for an outage. */
  databaseProxy?: TcpProxy;
  close(): Promise<void>;
}

export interface StackOptions {
  /** The apps reach PostgreSQL through a TCP proxy the test can cut (`Stack.databaseProxy`). */
  databaseProxy?: boolean;
}

export async function startStack(specs: AppProcessSpec[], options: StackOptions = {}): Promise<Stack> {
  const services = await startDistributedServices();
  const env = { ...services.env, ...STACK_SETTINGS };
  const apps = new Map<string, AppProcess>();
  const devices: MqttClient[] = [];
  let databaseProxy: TcpProxy | undefined;
  const close = async () => {
    await Promise.all(devices.map((d) => d.endAsync(true).catch(() => undefined)));
    await Promise.all([...apps.values()].map((a) => a.kill()));
    await databaseProxy?.stop();
    await services.close();
  };
  try {
    if (options.databaseProxy) {
      const url = new URL(env.DATABASE_URL);
      databaseProxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.hostname = '127.0.0.1';
      url.port = String(databaseProxy.port);
      env.DATABASE_URL = url.toString();
    }
    for (const a of await startAppProcesses(env, specs)) apps.set(a.name, a);
    const app = (name: string) => {
      const p = apps.get(name);
      if (!p) throw new Error(`no app ${name} in the stack`);
      return p;
    };
    const provisioning = await AppApi.login(app('provisioning').httpUrl, 'admin', ADMIN_PASSWORD);
    const consoleApp = [...apps.values()].find((a) => a.app === 'console');
    return {
      services, env, apps, app, devices, databaseProxy, close, provisioning,
      console: provisioning.on(consoleApp?.httpUrl ?? 'http://127.0.0.1:1'),
      add: async (spec) => {
        const p = await startAppProcess(env, spec);
        apps.set(p.name, p);
        return p;
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}

export interface Home {
  householdId: string;
  deviceId: string;
  serial: string;
  password: string;
}

let homeSeq = 0;

/** The on-duty aides of the default community (householdBody's), who get the SMS of every alert there. */
export async function seedAides(api: AppApi, n = 2): Promise<string[]> {
  const hh = householdBody();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await api.post<{ id: string }>('/api/v1/aides', {
      name: `助老员${i + 1}`, phone: `1370000${1000 + i}`, district: hh.district, street: hh.street, community: hh.community, onDuty: true,
    });
    ids.push(a.id);
  }
  return ids;
}

/** A household with an installed SOS button, through provisioning's API (which also gives it a broker account). */
export async function seedHome(api: AppApi, tag: string): Promise<Home> {
  const n = ++homeSeq;
  const hh = await api.post<{ id: string }>('/api/v1/households', householdBody({ name: `住户${tag}${n}` }));
  const serial = `D-${tag}-${process.pid}-${n}`;
  const dev = await api.post<{ id: string; mqtt: { password: string } }>('/api/v1/devices', { serial, type: 'sos' });
  await api.post(`/api/v1/devices/${dev.id}/install`, { householdId: hh.id });
  return { householdId: hh.id, deviceId: dev.id, serial, password: dev.mqtt.password };
}

/** Several homes, a few at a time. */
export async function seedHomes(api: AppApi, n: number, tag: string): Promise<Home[]> {
  const out: Home[] = [];
  for (let i = 0; i < n; i += 5) out.push(...await Promise.all(Array.from({ length: Math.min(5, n - i) }, () => seedHome(api, tag))));
  return out;
}

/** Connects each home's device to Mosquitto with its own credentials (the stack closes them). */
export async function connectHomes(stack: Stack, homes: Home[]): Promise<MqttClient[]> {
  const clients = await Promise.all(homes.map((h) => connectDevice(stack.services.deviceMqttUrl, h.serial, h.password)));
  stack.devices.push(...clients);
  return clients;
}

/** Publishes a device event at QoS 1; resolves at the broker's PUBACK. */
export function press(client: MqttClient, home: Home, id: string, type = 'sos'): Promise<void> {
  return publishQos1(client, `devices/${home.serial}/events`, JSON.stringify({ id, type, ts: Date.now() }));
}

export interface AlertItem {
  id: string;
  type: string;
  status: string;
  householdId: string;
  eventCount: number;
}

export interface DispatchItem {
  id: string;
  alertId: string;
  round: number;
  recipientKind: string;
  recipientId: string;
  channel: string;
  status: string;
}

/** Every alert (open or closed) of these households, from the console's API. */
export async function alertsOf(stack: Stack, homes: Home[], type?: string): Promise<AlertItem[]> {
  const ids = new Set(homes.map((h) => h.householdId));
  const { items } = await stack.console.get<{ items: AlertItem[] }>('/api/v1/alerts?status=all');
  return items.filter((a) => ids.has(a.householdId) && (type === undefined || a.type === type));
}

/** Waits until every home has an alert (of the type) and returns them; fails naming how many are missing. */
export async function waitForAlerts(stack: Stack, homes: Home[], timeoutMs: number, type?: string): Promise<AlertItem[]> {
  let last: AlertItem[] = [];
  try {
    return await eventually(async () => {
      last = await alertsOf(stack, homes, type);
      return new Set(last.map((a) => a.householdId)).size === homes.length ? last : undefined;
    }, timeoutMs, `${homes.length} alerts`);
  } catch {
    const have = new Set(last.map((a) => a.householdId));
    throw new Error(`${homes.length - have.size} of ${homes.length} homes have no ${type ?? ''} alert after ${timeoutMs} ms\n${outputTails(stack)}`);
  }
}

/** The last lines each app wrote, for a failure message: what went wrong in which process. */
export function outputTails(stack: Stack, chars = 1_500): string {
  return [...stack.apps.values()].map((a) => `--- ${a.name} (${a.running() ? 'running' : 'stopped'}):\n${a.output().slice(-chars)}`).join('\n');
}

export async function dispatchesOf(stack: Stack, alertId: string): Promise<DispatchItem[]> {
  return (await stack.console.get<{ items: DispatchItem[] }>(`/api/v1/dispatches?alertId=${alertId}`)).items;
}

/** Waits until the alert has at least `atLeast` dispatches, all sent, and returns them. */
export function waitForDispatchesSent(stack: Stack, alertId: string, timeoutMs: number, what: string, atLeast = 1): Promise<DispatchItem[]> {
  return eventually(async () => {
    const all = await dispatchesOf(stack, alertId);
    return all.length >= atLeast && all.every((d) => d.status === 'sent') ? all : undefined;
  }, timeoutMs, what);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
