import pino from 'pino';
import type { ConsumerLag } from '../messaging/message-bus';
import { Metrics } from './metrics';

/** A logger that keeps what it was told. */
function recordingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

const lagLines = (text: string) => text.split('\n').filter((l) => l.startsWith('linan_consumer_lag_messages{'));

describe(Metrics.name, () => {
  it('counts a retried message by group and topic, and a dead-lettered one with its reason', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.messageFailed({ group: 'triage', topic: 'gateway.device-events.v1', outcome: 'retry', reason: 'transient' });
    m.messageFailed({ group: 'triage', topic: 'gateway.device-events.v1', outcome: 'retry', reason: 'transient' });
    m.messageFailed({ group: 'triage', topic: 'gateway.device-events.v1', outcome: 'dead_letter', reason: 'not_json' });
    const text = await m.registry.metrics();
    expect(text).toContain('linan_consumer_retries_total{group="triage",topic="gateway.device-events.v1"} 2');
    expect(text).toContain('linan_consumer_dead_letters_total{group="triage",topic="gateway.device-events.v1",reason="not_json"} 1');
  });

  it('reads the consumer lag afresh at every scrape: partitions no longer reported drop out', async () => {
    const m = new Metrics({ defaultMetrics: false });
    let lag: ConsumerLag[] = [
      { group: 'triage', topic: 'gateway.device-events.v1', partition: 0, messages: 12 },
      { group: 'triage', topic: 'gateway.device-events.v1', partition: 1, messages: 0 },
    ];
    m.watchConsumerLag(async () => lag, recordingLogger().log);
    expect(lagLines(await m.registry.metrics())).toEqual([
      'linan_consumer_lag_messages{group="triage",topic="gateway.device-events.v1",partition="0"} 12',
      'linan_consumer_lag_messages{group="triage",topic="gateway.device-events.v1",partition="1"} 0',
    ]);
    lag = [{ group: 'dispatch', topic: 'triage.dispatch-requests.v1', partition: 3, messages: 5 }];
    expect(lagLines(await m.registry.metrics())).toEqual(['linan_consumer_lag_messages{group="dispatch",topic="triage.dispatch-requests.v1",partition="3"} 5']);
  });

  it('answers a scrape without the lag, and says why in the log, when the lag cannot be read or takes too long', async () => {
    const m = new Metrics({ defaultMetrics: false, lagTimeoutMs: 50 });
    const { log, lines } = recordingLogger();
    m.messageFailed({ group: 'dispatch', topic: 'triage.dispatch-requests.v1', outcome: 'retry', reason: 'transient' });
    m.watchConsumerLag(async () => [{ group: 'g', topic: 't', partition: 0, messages: 1 }], log);
    expect(lagLines(await m.registry.metrics())).toHaveLength(1);

    m.watchConsumerLag(() => Promise.reject(new Error('Kafka does not answer')), log);
    let text = await m.registry.metrics();
    expect(lagLines(text)).toEqual([]);
    expect(text).toContain('linan_consumer_retries_total{group="dispatch",topic="triage.dispatch-requests.v1"} 1');
    expect(lines.at(-1)).toMatchObject({ msg: 'consumer lag not known; left out of this scrape', err: { message: 'Kafka does not answer' } });

    m.watchConsumerLag(() => new Promise<ConsumerLag[]>(() => undefined), log);
    text = await m.registry.metrics();
    expect(lagLines(text)).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ err: { message: 'consumer lag not known in time' } });
  });
});

describe(`${Metrics.name} health`, () => {
  const healthLines = async (m: Metrics) => (await m.registry.metrics()).split('\n').filter((l) => l.startsWith('linan_health_up{'));

  it('shows each /health check as 1 or 0, and asks the services at most every 5 s however often it is scraped', async () => {
    const m = new Metrics({ defaultMetrics: false });
    let asked = 0;
    let kafkaUp = true;
    m.watchHealth(async () => {
      asked++;
      return [{ name: 'database', up: true }, { name: 'kafka', up: kafkaUp }];
    });
    const now = jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
    try {
      expect(await healthLines(m)).toEqual(['linan_health_up{check="database"} 1', 'linan_health_up{check="kafka"} 1']);
      kafkaUp = false;
      now.mockReturnValue(1_004_999);
      expect(await healthLines(m)).toContain('linan_health_up{check="kafka"} 1');
      expect(asked).toBe(1);
      now.mockReturnValue(1_005_000);
      expect(await healthLines(m)).toEqual(['linan_health_up{check="database"} 1', 'linan_health_up{check="kafka"} 0']);
      expect(asked).toBe(2);
    } finally {
      now.mockRestore();
    }
  });
});
