/** The bench's city: households with one SOS button each, on-duty aides per community, seeded through the HTTP API. */
import type { MqttClient } from 'mqtt';
import { ApiClient, mapLimit, type DeviceRegistered, type HouseholdView } from './api';
import { connectDevice } from './device';

export interface Home {
  index: number;
  householdId: string;
  serial: string;
  username: string;
  password: string;
  client?: MqttClient;
}

export interface SeedPlan {
  devices: number;
  communities: number;
  aidesPerCommunity: number;
  /** Serial prefix: BENCH-0000 … */
  serialPrefix?: string;
  /** Requests in flight at once. */
  concurrency?: number;
}

const DISTRICT = '思明区';
const areaOf = (c: number) => ({ district: DISTRICT, street: `街道${Math.floor(c / 5) + 1}`, community: `社区${String(c + 1).padStart(2, '0')}` });
const digits = (n: number, w: number) => String(n).padStart(w, '0');

export async function seed(api: ApiClient, plan: SeedPlan): Promise<Home[]> {
  const concurrency = plan.concurrency ?? 6;
  const aideJobs: { c: number; a: number }[] = [];
  for (let c = 0; c < plan.communities; c++) for (let a = 0; a < plan.aidesPerCommunity; a++) aideJobs.push({ c, a });
  await mapLimit(aideJobs, concurrency, ({ c, a }) => api.post('/api/v1/aides', {
    name: `助老员${c + 1}-${a + 1}`, phone: `137${digits(c * 100 + a, 8)}`, ...areaOf(c), onDuty: true,
  }));
  const width = Math.max(4, String(plan.devices - 1).length);
  return mapLimit(Array.from({ length: plan.devices }, (_, i) => i), concurrency, async (i) => {
    const hh = await api.post<HouseholdView>('/api/v1/households', {
      name: `测试老人${i + 1}`, phone: `138${digits(i, 8)}`, address: `厦门市思明区测试路${i + 1}号`, ...areaOf(i % plan.communities),
      subsidyCategory: 'living_alone', funding: 'government',
      contacts: [{ name: `家属${i + 1}`, phone: `139${digits(i, 8)}`, relation: '子女' }],
    });
    const serial = `${plan.serialPrefix ?? 'BENCH-'}${digits(i, width)}`;
    const dev = await api.post<DeviceRegistered>('/api/v1/devices', { serial, type: 'sos' });
    await api.post(`/api/v1/devices/${dev.id}/install`, { householdId: hh.id });
    return { index: i, householdId: hh.id, serial, username: dev.mqtt.username, password: dev.mqtt.password };
  });
}

/** One mqtt.js client per device, connected with the credentials registration returned. */
export async function connectHomes(homes: Home[], url: string, concurrency = 20): Promise<MqttClient[]> {
  const clients: MqttClient[] = [];
  await mapLimit(homes, concurrency, async (h) => {
    h.client = await connectDevice(url, h.serial, h.password, 10_000, h.username);
    clients.push(h.client);
  });
  return clients;
}
