import pino from 'pino';
import { Topics } from '@linan/contracts';
import {
  FakeCache, FakeClock, MessageBus, Metrics, type ConsumerHandle, type ConsumerLag, type OutgoingMessage, type RootLogger, type Subscription,
} from '@linan/platform';
import type { Device } from '../domain/device';
import { DevicePresence } from './device-presence';
import type { AuthenticateDeviceUseCase } from './authenticate-device.use-case';
import { IngestDeviceMessageUseCase, type DeviceMessage } from './ingest-device-message.use-case';
import { RecordBrokerRefusalsUseCase } from './record-broker-refusals.use-case';

/** Records what was published; can be told to refuse the next publish, as a Kafka outage would. */
class RecordingBus extends MessageBus {
  readonly published: { topic: string; message: OutgoingMessage }[] = [];
  failNext = 0;

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('bus unavailable');
    }
    messages.forEach((message) => this.published.push({ topic, message }));
  }

  subscribe(_s: Subscription): Promise<ConsumerHandle> {
    throw new Error('not used');
  }

  lag(): Promise<ConsumerLag[]> {
    throw new Error('not used');
  }

  async close(): Promise<void> {}
}

const device: Device = {
  id: 'dev-uuid-1', serial: 'SOS-1', type: 'sos', model: null, protocol: 'native', attributes: {}, status: 'active',
  householdId: 'hh-1', registeredAt: new Date(0), installedAt: new Date(0), decommissionedAt: null,
};

const caches: FakeCache[] = [];
afterEach(() => caches.splice(0).forEach((c) => c.close()));

function setup() {
  const clock = new FakeClock();
  const cache = new FakeCache(clock);
  const bus = new RecordingBus();
  const metrics = new Metrics({ defaultMetrics: false });
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(String(JSON.parse(line).msg)) }) as RootLogger;
  const presence = new DevicePresence(cache, clock, metrics, log);
  const useCase = new IngestDeviceMessageUseCase(bus, cache, clock, metrics, presence, log);
  const event = (id: string): DeviceMessage => ({
    device, serial: device.serial, topic: `devices/${device.serial}/events`,
    payload: Buffer.from(JSON.stringify({ id, type: 'sos', ts: clock.now() })),
  });
  const deviceEvents = () => bus.published.filter((p) => p.topic === Topics.deviceEvents);
  const counter = async (name: string) => (await metrics.registry.getSingleMetricAsString(name));
  caches.push(cache);
  return { clock, cache, bus, metrics, warnings, useCase, event, deviceEvents, counter, presence, log };
}

describe(IngestDeviceMessageUseCase.name, () => {
  it('publishes a new event once and drops its redelivery as a duplicate', async () => {
    const { useCase, event, deviceEvents } = setup();
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(await useCase.execute(event('e1'))).toEqual({ kind: 'duplicate' });
    expect(deviceEvents()).toHaveLength(1);
  });

  it('fails open: publishes the event when the cache cannot check for duplicates, and says so', async () => {
    const { cache, useCase, event, deviceEvents, warnings, counter } = setup();
    cache.fail();
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' }); // unchecked: triage is idempotent
    expect(deviceEvents().map((p) => JSON.parse(p.message.value).payload.deviceEventId)).toEqual(['e1', 'e1']);
    expect(await counter('linan_cache_errors_total')).toContain('op="dedup"} 2');
    expect(warnings).toContain('duplicate check unavailable (cache error); event published unchecked');
  });

  it('checks for duplicates again once the cache is back', async () => {
    const { cache, useCase, event, deviceEvents } = setup();
    cache.fail();
    await useCase.execute(event('e1'));
    cache.recover();
    expect(await useCase.execute(event('e2'))).toMatchObject({ kind: 'accepted' });
    expect(await useCase.execute(event('e2'))).toEqual({ kind: 'duplicate' });
    expect(deviceEvents()).toHaveLength(2);
  });

  it('marks an event only once it is published, so the device\'s retry after a failed publish goes through', async () => {
    const { bus, useCase, event, deviceEvents } = setup();
    bus.failNext = 1;
    await expect(useCase.execute(event('e1'))).rejects.toThrow('bus unavailable');
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(deviceEvents()).toHaveLength(1);
    expect(await useCase.execute(event('e1'))).toEqual({ kind: 'duplicate' });
  });

  it('reports the publish failure, not the cache\'s, when neither the bus nor the cache answers', async () => {
    const { bus, cache, useCase, event } = setup();
    bus.failNext = 1;
    cache.fail();
    await expect(useCase.execute(event('e1'))).rejects.toThrow('bus unavailable');
  });

  it('accepts an event it cannot mark, and lets its redelivery through to triage', async () => {
    const { cache, useCase, event, deviceEvents, counter } = setup();
    cache.fail(['set']);
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(deviceEvents()).toHaveLength(2);
    expect(await counter('linan_cache_errors_total')).toContain('op="dedup_mark"} 2');
  });

  it('accepts an event whose presence update fails', async () => {
    const { cache, useCase, event, deviceEvents, counter } = setup();
    cache.fail(['set']);
    expect(await useCase.execute(event('e1'))).toMatchObject({ kind: 'accepted' });
    expect(deviceEvents()).toHaveLength(1);
    expect(await counter('linan_cache_errors_total')).toContain('op="presence_set"} 1');
  });

  it('answers heartbeats and last wills while the cache is down', async () => {
    const { cache, useCase } = setup();
    cache.fail();
    const beat = { device, serial: device.serial, topic: `devices/${device.serial}/heartbeat`, payload: Buffer.from('{}') };
    expect(await useCase.execute(beat)).toEqual({ kind: 'presence' });
    expect(await useCase.execute({ ...beat, topic: `devices/${device.serial}/status`, payload: Buffer.from('offline') })).toEqual({ kind: 'presence' });
  });
});

describe(RecordBrokerRefusalsUseCase.name, () => {
  const report = { clientId: 'SOS-7', action: 'publish' as const, count: 3, topic: 'devices/SOS-8/events', payloadBase64: Buffer.from('{"id":"x"}').toString('base64') };
  const rejectedRecords = (bus: RecordingBus) => bus.published.filter((p) => p.topic === Topics.rejectedEvents)
    .map((p) => (JSON.parse(p.message.value) as { payload: Record<string, unknown> }).payload);
  /** The registry's answer for a refused CONNECT, by user name. */
  const auth = { refusalOf: async (serial: string) => (serial === 'GONE-1' ? 'decommissioned_device' : serial ? 'unknown_device' : 'bad_credentials') };
  const refusals = () => {
    const s = setup();
    return { ...s, record: new RecordBrokerRefusalsUseCase(s.useCase, auth as unknown as AuthenticateDeviceUseCase, s.metrics, s.clock, s.log) };
  };

  it('counts refused publishes as the embedded broker does and keeps the first on the rejected-events topic', async () => {
    const { bus, record, counter, warnings } = refusals();
    await record.execute(report);
    expect(await counter('linan_gateway_acl_denied_total')).toContain('action="publish"} 3');
    expect(await counter('linan_gateway_rejected_total')).toContain('reason="topic_mismatch"} 3');
    expect(rejectedRecords(bus)).toEqual([expect.objectContaining({
      serial: 'SOS-7', topic: 'devices/SOS-8/events', reason: 'topic_mismatch', payloadBase64: report.payloadBase64,
      detail: expect.stringMatching(/^the broker refused 3 publishes, the first to devices\/SOS-8\/events/),
    })]);
    expect(warnings).toContain('the broker refused packets of a device outside its own topics');
  });

  it('counts refused subscriptions without a record; fails, for the report to come again, when the record cannot be kept', async () => {
    const { bus, record, counter } = refusals();
    await record.execute({ clientId: 'SOS-7', action: 'subscribe', count: 2, topic: 'devices/+/commands' });
    expect(await counter('linan_gateway_acl_denied_total')).toContain('action="subscribe"} 2');
    expect(rejectedRecords(bus)).toEqual([]);
    bus.failNext = 1;
    await expect(record.execute(report)).rejects.toThrow('bus unavailable');
  });

  it('counts refused connections by the reason the registry tells, and those of devices it was not told of as unclassified', async () => {
    const { bus, record, counter } = refusals();
    await record.execute({ clientId: 'GONE-1', action: 'connect', count: 4, topic: '' });
    await record.execute({ clientId: 'NOBODY', action: 'connect', count: 1, topic: '' });
    await record.execute({ clientId: '', action: 'connect', count: 2, topic: '' });
    await record.execute({ clientId: '', action: 'connect', count: 5, topic: '', overflow: true });
    const text = await counter('linan_gateway_connect_refused_total');
    for (const line of ['reason="decommissioned_device"} 4', 'reason="unknown_device"} 1', 'reason="bad_credentials"} 2', 'reason="unclassified"} 5']) {
      expect(text).toContain(line);
    }
    expect(rejectedRecords(bus)).toEqual([]);
  });

  it('asks the registry about a serial at most once a minute, however often the broker reports it', async () => {
    const { record, clock, counter } = refusals();
    let asked = 0;
    const counting = auth.refusalOf;
    auth.refusalOf = async (serial: string) => (asked++, counting(serial));
    try {
      for (let i = 0; i < 30; i++) {
        await record.execute({ clientId: 'GONE-1', action: 'connect', count: 1, topic: '' });
        clock.advance(1_000);
      }
      expect(asked).toBe(1);
      clock.advance(31_000);
      await record.execute({ clientId: 'GONE-1', action: 'connect', count: 1, topic: '' });
      expect(asked).toBe(2);
      expect(await counter('linan_gateway_connect_refused_total')).toContain('reason="decommissioned_device"} 31');
    } finally {
      auth.refusalOf = counting;
    }
  });
});
