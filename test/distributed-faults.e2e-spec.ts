/**
 * Distributed mode when a service fails: each app its own process (`npm run build` first) on real services of this
 * run. A service that cannot be reached at boot, a poison message on a Kafka topic, Redis restarted under running
 * apps, PostgreSQL unreachable and Kafka not answering under running apps, a database that comes back older than it
 * was. The replicas and the whole chain are in distributed.e2e-spec.ts.
 */
import { execFile } from 'node:child_process';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { deadLetterTopic, retryTopic, Topics } from '@linan/contracts';
import { APP_NAMES } from '@linan/platform';
import { describeDistributed, eventually, freePort, runAppUntilExit, sumMetric, type AppProcess } from '@linan/testing';
import { DISPATCH_GROUP } from '../apps/dispatch/src/dispatch-request.consumer';
import { TRIAGE_GROUP } from '../apps/triage/src/device-event.consumer';
import {
  alertsOf, connectHomes, outputTails, press, seedHomes, sleep, startStack, waitForAlerts, waitForDispatchesSent, type Stack,
} from './distributed/stack';

/** Reads a topic from the beginning to its end with kcat: `key \t headers \t value` per message. */
function readTopic(brokers: string, topic: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('kcat', ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%k\t%h\t%s\n'], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout.split('\n').filter(Boolean));
    });
  });
}

const headersOf = (kcatHeaders: string) => Object.fromEntries(kcatHeaders.split(',').map((h) => [h.slice(0, h.indexOf('=')), h.slice(h.indexOf('=') + 1)]));

const healthy = async (p: AppProcess) => (await fetch(`${p.httpUrl}/health`)).status === 200;

describeDistributed('distributed mode on real services: faults', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(
      [{ app: 'gateway', env: { MQTT_CLIENT_ID: 'gw-faults' } }, { app: 'triage' }, { app: 'dispatch' }, { app: 'provisioning' }, { app: 'console' }],
      { databaseProxy: true },
    );
  }, 90_000);

  const everyApp = async (ready: boolean) => (await Promise.all([...stack.apps.values()].map(healthy))).every((h) => h === ready);
  /** An app's `linan_health_up` on /metrics, by check. */
  const healthUp = async (app: string): Promise<Record<string, number>> => {
    const text = await (await fetch(`${stack.app(app).httpUrl}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/^linan_health_up\{check="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  };

  afterAll(async () => {
    await stack?.close();
  });

  it.each([
    ['DATABASE_URL', 'PostgreSQL'],
    ['KAFKA_BROKERS', 'Kafka'],
  ])('each app stops at boot with a one-line message naming %s when %s cannot be reached, and exits 1', async (key, service) => {
    const port = await freePort();
    const wrong = key === 'DATABASE_URL' ? `postgres://linan:db-secret-pw@127.0.0.1:${port}/linan` : `127.0.0.1:${port}`;
    const shown = key === 'DATABASE_URL' ? `postgres://linan:***@127.0.0.1:${port}/linan` : wrong;
    const runs = await Promise.all(APP_NAMES.map((app) => runAppUntilExit({ ...stack.env, [key]: wrong }, app, 60_000)));
    runs.forEach((run, i) => {
      const what = `${APP_NAMES[i]}: ${run.stderr}`;
      expect({ what, code: run.code, signal: run.signal }).toEqual({ what, code: 1, signal: null });
      // the reason alone on stderr: no stack trace, no framework banner
      expect(run.stderr.trim()).toMatch(new RegExp(`^cannot reach ${service} at ${shown.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${key}\\): .*ECONNREFUSED`));
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stdout + run.stderr).not.toContain('db-secret-pw');
    });
  }, 90_000);

  it('dead-letters a poison message on the device-events topic with its reason, and the partition keeps flowing', async () => {
    const [home] = await seedHomes(stack.provisioning, 1, 'poison');
    const [device] = await connectHomes(stack, [home]);
    const dlq = deadLetterTopic(Topics.deviceEvents, TRIAGE_GROUP);
    expect(dlq).toBe('gateway.device-events.v1.triage.dlq');

    // not JSON, on the home's partition (keyed by household, as the gateway writes)
    const marker = `poison-${process.pid}-${Date.now()}`;
    const producer = new Kafka({ clientId: 'poison-test', brokers: [stack.services.kafka.brokers], logLevel: logLevel.NOTHING })
      .producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic: Topics.deviceEvents, acks: -1, messages: [{ key: home.householdId, value: `{not json ${marker}`, headers: { 'x-test': marker } }] });
    } finally {
      await producer.disconnect();
    }

    const line = await eventually(async () => (await readTopic(stack.services.kafka.brokers, dlq).catch(() => [])).find((l) => l.includes(marker)), 20_000, 'the poison message on the dead-letter topic');
    const [key, headers, value] = line.split('\t');
    expect(key).toBe(home.householdId);
    expect(value).toBe(`{not json ${marker}`);
    expect(headersOf(headers)).toMatchObject({
      'x-test': marker, 'dlq-reason': 'not_json', 'dlq-group': TRIAGE_GROUP, 'dlq-attempts': '1',
      'dlq-source': expect.stringMatching(/^gateway\.device-events\.v1\/\d+@\d+$/),
    });

    // the SOS behind it on the same partition still becomes an alert
    await press(device, home, 'after-poison');
    const [alert] = await waitForAlerts(stack, [home], 15_000);
    expect(alert).toMatchObject({ type: 'sos', eventCount: 1 });

    // and triage's /metrics counts the dead letter with its reason, which is what an operator's alert rule watches
    const metrics = await (await fetch(`${stack.app('triage').httpUrl}/metrics`)).text();
    expect(sumMetric(metrics, 'linan_consumer_dead_letters_total', { group: TRIAGE_GROUP, topic: Topics.deviceEvents, reason: 'not_json' })).toBe(1);
  }, 60_000);

  it('loses no SOS while Redis restarts: alerts during and after, presence back with the next heartbeat, duplicates caught again', async () => {
    const gateway = stack.app('gateway');
    const homes = await seedHomes(stack.provisioning, 2, 'redis');
    const [during, after] = homes;
    const [c1, c2] = await connectHomes(stack, homes);
    const online = async () => {
      const hh = await stack.provisioning.get<{ devices: { online: boolean }[] }>(`/api/v1/households/${after.householdId}`);
      return hh.devices[0].online;
    };
    await c2.publishAsync(`devices/${after.serial}/heartbeat`, '{}', { qos: 1 });
    await eventually(online, 10_000, 'the device online');

    // Redis down: the gateway takes the SOS anyway (its duplicate check fails open), triage opens the alert
    const dedupErrors = await gateway.metric('linan_cache_errors_total', { op: 'dedup' });
    await stack.services.redis.stop();
    await press(c1, during, 'redis-during');
    const [first] = await waitForAlerts(stack, [during], 15_000);
    expect(first).toMatchObject({ type: 'sos', eventCount: 1 });
    expect(await gateway.metric('linan_cache_errors_total', { op: 'dedup' })).toBe(dedupErrors + 1);
    // the installer's page still loads; presence is unknown, so the device shows offline
    expect(await online()).toBe(false);

    // Redis back, empty: every app reconnects by itself
    await stack.services.redis.restart();
    await eventually(() => everyApp(true), 15_000, 'every app healthy again');
    expect(await online()).toBe(false);
    await c2.publishAsync(`devices/${after.serial}/heartbeat`, '{}', { qos: 1 });
    await eventually(online, 10_000, 'the device online after its next heartbeat');

    await press(c2, after, 'redis-after');
    const [second] = await waitForAlerts(stack, [after], 15_000);
    expect(second).toMatchObject({ type: 'sos', eventCount: 1 });

    // the same event again: the gateway's duplicate check answers from Redis again
    const dups = await gateway.metric('linan_gateway_duplicates_total');
    await press(c2, after, 'redis-after');
    await eventually(async () => (await gateway.metric('linan_gateway_duplicates_total')) === dups + 1, 10_000, 'the repeat counted as a duplicate');
    // the SOS taken while Redis was down was never marked there: sent again, it reaches triage, which keeps it once
    // (its own check in PostgreSQL); a new press behind it on the same partition is attached to the alert
    await press(c1, during, 'redis-during');
    await press(c1, during, 'redis-during-2');
    const attached = await eventually(async () => (await alertsOf(stack, [during])).find((a) => a.eventCount > 1), 15_000, 'the new press attached');
    expect(attached).toMatchObject({ id: first.id, eventCount: 2 });
    expect(await alertsOf(stack, homes)).toHaveLength(2);
  }, 90_000);
  it('loses no SOS while PostgreSQL is unreachable: every app unready, the API answers 503, the alert opened and dispatched once it is back, no retry, no dead letter', async () => {
    const proxy = stack.databaseProxy!;
    const homes = await seedHomes(stack.provisioning, 2, 'pgdown');
    const [before, during] = homes;
    const [c1, c2] = await connectHomes(stack, homes);
    // the gateway looks a device up at its first message and remembers it: this one's heartbeat, seen as presence
    await c2.publishAsync(`devices/${during.serial}/heartbeat`, '{}', { qos: 1 });
    await eventually(async () => (await stack.provisioning.get<{ devices: { online: boolean }[] }>(`/api/v1/households/${during.householdId}`)).devices[0].online,
      10_000, 'the device online');
    await press(c1, before, 'pg-before');
    await waitForAlerts(stack, [before], 15_000);

    await proxy.cut();
    try {
      await eventually(() => everyApp(false), 15_000, 'every app unready while PostgreSQL is unreachable');
      // Mosquitto acknowledges the device; the gateway hands the event to Kafka; triage cannot store it and holds it
      await press(c2, during, 'pg-during');
      // many times the consumers' retry delay (CONSUMER_RETRY_BASE_MS 50): an outage counted as attempts would have
      // pushed the event through the retry topic to the dead-letter topic by now
      await sleep(5_000);
      // the API says the database is unavailable (503, try again), not that it failed
      await expect(stack.console.get('/api/v1/alerts?status=all')).rejects.toThrow(/→ 503: .*"code":"SERVICE\.DATABASE_UNAVAILABLE"/);
      await expect(stack.provisioning.get(`/api/v1/households/${during.householdId}`)).rejects.toThrow(/→ 503: .*SERVICE\.DATABASE_UNAVAILABLE/);
      expect(await everyApp(false)).toBe(true);
      // what an alert rule sees: the app still answers its scrape, and says its database is down
      await eventually(async () => (await healthUp('triage')).database === 0, 15_000, 'triage reporting its database down on /metrics');
      expect(await healthUp('triage')).toMatchObject({ database: 0, kafka: 1, redis: 1 });
    } finally {
      await proxy.restore();
    }

    await eventually(() => everyApp(true), 30_000, `every app ready again\n${outputTails(stack)}`);
    await eventually(async () => (await healthUp('triage')).database === 1, 15_000, 'triage reporting its database up again on /metrics');
    const [alert] = await waitForAlerts(stack, [during], 30_000);
    expect(alert).toMatchObject({ type: 'sos', eventCount: 1 });
    const sent = await waitForDispatchesSent(stack, alert.id, 20_000, 'the alert\'s dispatches sent');
    expect(sent.some((d) => d.recipientKind === 'family' && d.channel === 'sms')).toBe(true);
    expect((await alertsOf(stack, [during]))[0].status).toBe('dispatched');
    // one alert per home, and nothing of theirs on a retry or dead-letter topic: the outage cost no attempt
    expect(await alertsOf(stack, homes)).toHaveLength(2);
    const detours = [[Topics.deviceEvents, TRIAGE_GROUP], [Topics.dispatchRequests, DISPATCH_GROUP]].flatMap(([t, g]) => [retryTopic(t, g), deadLetterTopic(t, g)]);
    for (const topic of detours) {
      const theirs = (await readTopic(stack.services.kafka.brokers, topic).catch(() => [])).filter((l) => homes.some((h) => l.startsWith(h.householdId)));
      expect({ topic, copies: theirs.length, first: theirs[0]?.slice(0, 300) }).toEqual({ topic, copies: 0, first: undefined });
    }
  }, 120_000);
  it('loses nothing while Kafka does not answer: every app unready, an SOS and an acknowledgement meanwhile go through once it answers', async () => {
    const kafka = stack.services.kafka;
    const homes = await seedHomes(stack.provisioning, 2, 'kafkahung');
    const [earlier, during] = homes;
    const [c1, c2] = await connectHomes(stack, homes);
    await press(c1, earlier, 'kafka-before');
    const [open] = await waitForAlerts(stack, [earlier], 15_000);

    kafka.pause();
    try {
      await eventually(() => everyApp(false), 15_000, 'every app unready while Kafka does not answer');
      // Mosquitto acknowledges the device; the gateway holds the event until Kafka has it
      await press(c2, during, 'kafka-during');
      // an operator's acknowledgement is stored with its outbox row; the alert change waits there for Kafka
      const acked = await stack.console.post<{ status: string }>(`/api/v1/alerts/${open.id}/acknowledge`, {});
      expect(acked.status).toBe('acknowledged');
      await sleep(3_000);
      expect(await alertsOf(stack, [during])).toEqual([]);
    } finally {
      kafka.resume();
    }

    await eventually(() => everyApp(true), 30_000, `every app ready again\n${outputTails(stack)}`);
    await eventually(async () => (await healthUp('triage')).database === 1, 15_000, 'triage reporting its database up again on /metrics');
    const [alert] = await waitForAlerts(stack, [during], 30_000);
    expect(alert).toMatchObject({ type: 'sos', eventCount: 1 });
    await waitForDispatchesSent(stack, alert.id, 20_000, 'the alert\'s dispatches sent');
    const changes = await eventually(async () => {
      const lines = (await readTopic(kafka.brokers, Topics.alertChanges).catch(() => [])).filter((l) => l.includes(open.id) && l.includes('"acknowledged"'));
      return lines.length ? lines : undefined;
    }, 15_000, 'the acknowledgement on the alert-changes topic');
    // at least once: a copy sent again after a timeout is the same event (consumers skip it by its id)
    const ids = changes.map((l) => /eventId=([^,\t]+)/.exec(l)?.[1]);
    expect(ids.every(Boolean) && new Set(ids).size).toBe(1);
    expect(await alertsOf(stack, homes)).toHaveLength(2);
  }, 120_000);

  it('raises again an SOS the database lost when it came back older (a failover to a replica behind): from Kafka, in order; the old call-out dead-lettered', async () => {
    const proxy = stack.databaseProxy!;
    const [home] = await seedHomes(stack.provisioning, 1, 'older');
    const [device] = await connectHomes(stack, [home]);
    // the state the database will come back to: the home registered, nothing pressed yet
    await proxy.cut();
    const copy = await stack.services.database.saveCopy().finally(() => proxy.restore());
    try {
      await eventually(() => everyApp(true), 30_000, `every app ready again after the copy\n${outputTails(stack)}`);
      await press(device, home, 'older-1');
      const [lost] = await waitForAlerts(stack, [home], 15_000);
      await waitForDispatchesSent(stack, lost.id, 20_000, 'the first alert dispatched');

      // the database goes back to the copy: the alert, its dispatches and the groups' stored offsets with it
      await proxy.cut();
      await copy.restore().finally(() => proxy.restore());
      await eventually(() => everyApp(true), 30_000, `every app ready again after the restore\n${outputTails(stack)}`);
      expect(await alertsOf(stack, [home])).toEqual([]);

      // the home's next message shows triage the gap: it goes back for the SOS the database lost and applies both
      await press(device, home, 'older-2');
      const raised = await eventually(async () => (await alertsOf(stack, [home])).find((a) => a.eventCount === 2), 20_000, 'the lost SOS raised again with the new one');
      expect(raised.id).not.toBe(lost.id);
      // in the order pressed: the SOS the database lost opened the alert, marked as applied again; the new one added
      const detail = await stack.console.get<{ timeline: { kind: string; details: { deviceEventId?: string; replayed?: boolean } }[] }>(`/api/v1/alerts/${raised.id}`);
      expect(detail.timeline.filter((t) => t.kind === 'event_received').map((t) => [t.details.deviceEventId, t.details.replayed ?? false]))
        .toEqual([['older-1', true], ['older-2', false]]);
      const sent = await waitForDispatchesSent(stack, raised.id, 20_000, 'the raised alert dispatched');
      expect(sent.some((d) => d.recipientKind === 'family' && d.channel === 'sms')).toBe(true);
      expect(await alertsOf(stack, [home])).toHaveLength(1);
      const triage = stack.app('triage');
      expect(await triage.metric('linan_consumer_replayed_messages_total', { group: TRIAGE_GROUP, topic: Topics.deviceEvents })).toBe(1);
      expect(await triage.metric('linan_consumer_lost_messages_total')).toBe(0);

      // dispatch went back too: the first call-out's request names an alert the database no longer holds, refused for
      // good; the alarm itself was raised again above
      const dlq = deadLetterTopic(Topics.dispatchRequests, DISPATCH_GROUP);
      const line = await eventually(async () => (await readTopic(stack.services.kafka.brokers, dlq).catch(() => [])).find((l) => l.includes(lost.id)), 20_000, 'the old request dead-lettered');
      expect(headersOf(line.split('\t')[1])).toMatchObject({ 'dlq-reason': 'unknown_alert', 'dlq-group': DISPATCH_GROUP });
      // fetched again and refused, not applied: dispatch counts a dead letter, and nothing applied again
      const dispatch = stack.app('dispatch');
      expect(await dispatch.metric('linan_consumer_dead_letters_total', { reason: 'unknown_alert' })).toBe(1);
      expect(await dispatch.metric('linan_consumer_replayed_messages_total')).toBe(0);
      expect(await dispatch.metric('linan_consumer_lost_messages_total')).toBe(0);
    } finally {
      await copy.drop();
    }
  }, 180_000);
});
