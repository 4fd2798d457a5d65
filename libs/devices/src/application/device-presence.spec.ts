import pino from 'pino';
import { FakeCache, FakeClock, Metrics, type RootLogger } from '@linan/platform';
import { DevicePresence } from './device-presence';

const caches: FakeCache[] = [];
afterEach(() => caches.splice(0).forEach((c) => c.close()));

function setup() {
  const clock = new FakeClock();
  const cache = new FakeCache(clock);
  caches.push(cache);
  const metrics = new Metrics({ defaultMetrics: false });
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(String(JSON.parse(line).msg)) }) as RootLogger;
  const counter = (name: string) => metrics.registry.getSingleMetricAsString(name);
  return { clock, cache, warnings, counter, presence: new DevicePresence(cache, clock, metrics, log) };
}

describe(DevicePresence.name, () => {
  it('records online and offline with the time last heard', async () => {
    const { clock, presence } = setup();
    await presence.seen('SOS-1');
    clock.advance(1000);
    await presence.gone('SOS-2');
    const p = await presence.of(['SOS-1', 'SOS-2', 'SOS-3']);
    expect(p.get('SOS-1')).toEqual({ online: true, lastSeenAt: clock.now() - 1000 });
    expect(p.get('SOS-2')).toEqual({ online: false, lastSeenAt: clock.now() });
    expect(p.get('SOS-3')).toBeNull();
  });

  it('passes over cache errors: updates are dropped, reads say unknown, both are counted', async () => {
    const { cache, presence, counter, warnings } = setup();
    await presence.seen('SOS-1');
    cache.fail();
    await expect(presence.seen('SOS-1')).resolves.toBeUndefined();
    await expect(presence.gone('SOS-1')).resolves.toBeUndefined();
    expect((await presence.of(['SOS-1'])).get('SOS-1')).toBeNull();
    const text = await counter('linan_cache_errors_total');
    expect(text).toContain('op="presence_set"} 2');
    expect(text).toContain('op="presence_get"} 1');
    expect(warnings.filter((w) => w.startsWith('presence not available'))).toHaveLength(3);
  });
});
