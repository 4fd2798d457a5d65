import type { DeviceWithSecret } from '@linan/devices';
import { PRESENCE_TTL_MS } from '@linan/devices';
import { DEVICE_CACHE_MS, DeviceLookup } from './device-lookup';

const device = (serial: string, status: DeviceWithSecret['status'] = 'active'): DeviceWithSecret => ({
  id: `id-${serial}`, serial, type: 'sos', model: null, protocol: 'native', attributes: {}, status, householdId: status === 'active' ? 'hh-1' : null,
  registeredAt: new Date(0), installedAt: null, decommissionedAt: null, secretHash: 'secret-hash',
});

describe(DeviceLookup.name, () => {
  let registry: Map<string, DeviceWithSecret>;
  let queries: string[][];
  let now: number;
  const lookup = () => new DeviceLookup({
    findBySerials: async (serials) => {
      queries.push([...serials]);
      return serials.flatMap((s) => (registry.has(s) ? [registry.get(s)!] : []));
    },
  }, DEVICE_CACHE_MS, () => now);

  beforeEach(() => {
    registry = new Map(['A', 'B', 'C'].map((s) => [s, device(s)]));
    registry.set('N', device('N', 'registered'));
    queries = [];
    now = 1_000_000;
  });

  it('asks the registry once for the lookups of one moment, and answers each its own device without the secret', async () => {
    const l = lookup();
    const found = await Promise.all(['A', 'B', 'nobody', 'C', 'A'].map((s) => l.find(s)));
    expect(queries).toEqual([['A', 'B', 'nobody', 'C', 'A']]);
    expect(found.map((d) => d?.id ?? null)).toEqual(['id-A', 'id-B', null, 'id-C', 'id-A']);
    expect(found[0]).not.toHaveProperty('secretHash');
  });

  it('remembers installed devices for a while, and reads anything else again every time', async () => {
    const l = lookup();
    await l.find('A');
    await l.find('N');
    await l.find('nobody');
    expect(queries).toHaveLength(3);
    registry.set('N', device('N', 'active'));
    expect((await l.find('N'))?.status).toBe('active'); // installed since: seen at once
    await l.find('A');
    expect(queries).toHaveLength(4); // A came from memory
    registry.set('A', device('A', 'decommissioned'));
    now += DEVICE_CACHE_MS + 1;
    expect((await l.find('A'))?.status).toBe('decommissioned');
  });

  it('reads a live device (heartbeats at the default period) once per DEVICE_CACHE_MS, so its presses come from memory', async () => {
    const heartbeatMs = PRESENCE_TTL_MS / 3; // presence allows three missed heartbeats
    expect(DEVICE_CACHE_MS).toBeGreaterThanOrEqual(2 * heartbeatMs);
    const l = lookup();
    const start = now;
    let presses = 0;
    for (let t = 0; t <= 3_600_000; t += heartbeatMs) {
      now = start + t;
      await l.find('A'); // the heartbeat
      now += heartbeatMs / 2;
      const before = queries.length;
      await l.find('A'); // a press between two heartbeats
      if (queries.length === before) presses++;
    }
    expect(queries.length).toBeLessThanOrEqual(Math.ceil(3_600_000 / DEVICE_CACHE_MS) + 1);
    expect(presses).toBe(Math.floor(3_600_000 / heartbeatMs) + 1);
  });

  it('passes a registry failure to every lookup of that moment', async () => {
    const l = new DeviceLookup({ findBySerials: async () => Promise.reject(new Error('database down')) });
    const outcomes = await Promise.allSettled([l.find('A'), l.find('B')]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
  });
});
