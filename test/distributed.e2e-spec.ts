/**
 * Distributed mode end to end: every app its own process (`node dist/apps/<app>/main.js`, `npm run build` first) on
 * real services of this run: PostgreSQL, a Kafka-protocol broker (kcat's mock cluster), Redis and the project's
 * Mosquitto. Replicas, and dispatch, are killed with SIGKILL in the middle of the traffic, as a crash would, and
 * what a dispatch process leaves when it dies between recording and sending is written straight into the database.
 * The faults of the services themselves (boot failures, Redis restart, a poison message, PostgreSQL and Kafka
 * outages) are in distributed-faults.e2e-spec.ts.
 */
import { Client } from 'pg';
import { retryTopic, Topics } from '@linan/contracts';
import { describeDistributed, eventually, sumMetric, tryDeviceConnect } from '@linan/testing';
import { DISPATCH_GROUP } from '../apps/dispatch/src/dispatch-request.consumer';
import { TRIAGE_GROUP } from '../apps/triage/src/device-event.consumer';
import {
  alertsOf, connectHomes, dispatchesOf, press, seedAides, seedHome, seedHomes, sleep, startStack, waitForAlerts, waitForDispatchesSent, type Stack,
} from './distributed/stack';

const OPENED = 'linan_alerts_opened_total';
const GATEWAY_EVENTS = ['linan_gateway_messages_total', { channel: 'events' }] as const;

/**
 * Mosquitto hands a share group's messages to its sessions in turn, one message each: with the default 16 sessions
 * per gateway, a dozen presses could all go to one replica's sessions. Two each makes the split visible.
 */
const FEW_SESSIONS = { MQTT_GATEWAY_CONNECTIONS: '2' };

describeDistributed('distributed mode: one process per app on real services', () => {
  let stack: Stack;
  let aides: string[];

  beforeAll(async () => {
    stack = await startStack([
      { app: 'gateway', name: 'gateway-a', env: { MQTT_CLIENT_ID: 'gw-a', ...FEW_SESSIONS } },
      // both triage replicas log when their consumer has its partitions
      { app: 'triage', name: 'triage-a', env: { LOG_LEVEL: 'info' } },
      { app: 'triage', name: 'triage-b', env: { LOG_LEVEL: 'info' } },
      { app: 'dispatch' },
      { app: 'provisioning' },
      { app: 'console' },
    ]);
    aides = await seedAides(stack.provisioning);
    // the two replicas share the partitions once both are in the group with nothing pending (a member that joins
    // late costs a rebalance, ~9 s on the test broker)
    const replicas = ['triage-a', 'triage-b'];
    const settled = () => replicas.every((name) => {
      const out = stack.app(name).output();
      return out.lastIndexOf('consumer joined its group') > Math.max(out.lastIndexOf('starting it again'), out.lastIndexOf('re-joining'));
    });
    await eventually(settled, 60_000, 'both triage replicas in the consumer group');
    // A consumer restarted after the test broker's SyncGroup quirk (see decisions.md) leaves its old member in the
    // group until that member's session times out (10 s), which starts one more rebalance: wait it out.
    if (replicas.some((name) => stack.app(name).output().includes('starting it again'))) {
      await sleep(12_000);
      await eventually(settled, 60_000, 'both triage replicas in the consumer group after the restarted member left');
    }
  }, 180_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('carries an SOS from a device on Mosquitto through gateway, triage and dispatch to the console and provisioning APIs', async () => {
    const home = await seedHome(stack.provisioning, 'chain');
    const [device] = await connectHomes(stack, [home]);
    await device.publishAsync(`devices/${home.serial}/heartbeat`, '{"battery":90}', { qos: 1 });
    // the installer's view (provisioning): the device is bound to the household and online (presence in Redis)
    await eventually(async () => {
      const hh = await stack.provisioning.get<{ devices: { serial: string; online: boolean }[] }>(`/api/v1/households/${home.householdId}`);
      return hh.devices.length === 1 && hh.devices[0].serial === home.serial && hh.devices[0].online;
    }, 10_000, 'the device online on the household');

    await press(device, home, 'chain-sos-1');
    // the operator's view (console): the alert triage opened, and what dispatch sent
    const [alert] = await waitForAlerts(stack, [home], 15_000);
    expect(alert).toMatchObject({ type: 'sos', status: 'open', eventCount: 1 });
    const dispatches = await waitForDispatchesSent(stack, alert.id, 15_000, 'the first call-out sent', aides.length + 2);
    // both on-duty aides and the family contact by SMS, the operators on the console
    expect(dispatches.filter((d) => d.channel === 'sms' && d.recipientKind === 'aide').map((d) => d.recipientId).sort()).toEqual([...aides].sort());
    expect(dispatches.filter((d) => d.channel === 'sms' && d.recipientKind === 'family')).toHaveLength(1);
    expect(dispatches.filter((d) => d.channel === 'console')).toHaveLength(1);
    // the fake SMS provider's outbox is served by dispatch, the process that sent (the console's process sent none)
    const outbox = await stack.console.on(stack.app('dispatch').httpUrl).get<{ items: { reference: string; to: string }[] }>('/api/v1/embedded/sms');
    const smsIds = dispatches.filter((d) => d.channel === 'sms').map((d) => d.id);
    expect(outbox.items.filter((m) => smsIds.includes(m.reference))).toHaveLength(smsIds.length);
    expect(outbox.items.map((m) => m.to)).toEqual(outbox.items.map(() => expect.stringMatching(/^1\d\d\*{4}\d{4}$/)));

    const detail = await stack.console.get<{ household: { id: string }; timeline: { kind: string }[]; dispatches: unknown[] }>(`/api/v1/alerts/${alert.id}`);
    expect(detail.household.id).toBe(home.householdId);
    expect(detail.timeline.length).toBeGreaterThan(0);
    expect(detail.dispatches).toHaveLength(dispatches.length);

    // the console, where the edge sends /api/docs, documents the whole API: provisioning's and dispatch's routes too
    const document = (await (await fetch(`${stack.console.baseUrl}/api/docs/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/api/v1/households', '/api/v1/embedded/sms', '/api/v1/alerts']));

    // each app counts its Kafka requests on /metrics: the gateway's produce requests, triage's and dispatch's fetches
    const kafkaRequests = async (app: string, labels: Record<string, string>) =>
      sumMetric(await (await fetch(`${stack.app(app).httpUrl}/metrics`)).text(), 'linan_kafka_requests_total', labels);
    expect(await kafkaRequests('gateway-a', { client: 'producer', api: 'Produce' })).toBeGreaterThanOrEqual(1);
    expect(await kafkaRequests('dispatch', { client: 'consumer', api: 'Fetch' })).toBeGreaterThanOrEqual(1);

    // /health names the Kafka cluster, and the consumers stored it with their offsets, each with its message's digest
    const kafkaHealth = async (app: string) =>
      ((await (await fetch(`${stack.app(app).httpUrl}/health`)).json()) as { info: { kafka: { brokers: number; clusterId: string } } }).info.kafka;
    const cluster = (await kafkaHealth('triage-a')).clusterId;
    expect(cluster).toMatch(/^mockCluster/);
    expect(await kafkaHealth('gateway-a')).toMatchObject({ status: 'up', brokers: 1, clusterId: cluster });
    const db = new Client({ connectionString: stack.env.DATABASE_URL });
    await db.connect();
    try {
      const { rows } = await db.query<{ log_id: string | null; digested: boolean }>(
        `SELECT DISTINCT log_id, last_digest IS NOT NULL AS digested FROM bus_offsets WHERE group_id IN ('triage', 'dispatch') AND seq >= 0`);
      expect(rows).toEqual([{ log_id: cluster, digested: true }]);
    } finally {
      await db.end();
    }
    expect(await kafkaRequests('triage-a', { client: 'consumer', api: 'Heartbeat' })).toBeGreaterThanOrEqual(1);

    // and its consumer groups' lag, read at the scrape: every partition of the topics the app reads, nothing behind
    const lagOf = async (app: string, group: string, topic: string) => {
      const text = await (await fetch(`${stack.app(app).httpUrl}/metrics`)).text();
      const partitions = text.split('\n').filter((l) => l.startsWith(`linan_consumer_lag_messages{group="${group}",topic="${topic}",`));
      return { partitions: partitions.length, behind: sumMetric(text, 'linan_consumer_lag_messages', { group, topic }) };
    };
    for (const [app, group, topic] of [
      ['dispatch', DISPATCH_GROUP, Topics.dispatchRequests], ['dispatch', DISPATCH_GROUP, retryTopic(Topics.dispatchRequests, DISPATCH_GROUP)],
      ['triage-a', TRIAGE_GROUP, Topics.deviceEvents],
    ]) {
      await eventually(async () => (await lagOf(app, group, topic)).behind === 0, 10_000, `${group} caught up on ${topic}`);
      expect(await lagOf(app, group, topic)).toEqual({ partitions: 4, behind: 0 });
    }

    // provisioning compared Mosquitto's device accounts with the registry once its admin connection was up: none missing
    const provisioning = stack.app('provisioning');
    await eventually(async () => (await provisioning.metric('linan_device_accounts_compared_timestamp_seconds')) > 0, 10_000, 'the accounts compared');
    expect(await provisioning.metric('linan_device_accounts_compared_timestamp_seconds')).toBeLessThanOrEqual(Date.now() / 1000);
    expect(await (await fetch(`${provisioning.httpUrl}/metrics`)).text()).toMatch(/^linan_device_accounts_missing 0$/m);

    // a device publishing as another: Mosquitto refuses it, and the gateway process counts the refusal it reports
    const gateway = stack.app('gateway-a');
    const denied = () => gateway.metric('linan_gateway_acl_denied_total', { action: 'publish' });
    const mismatched = () => gateway.metric('linan_gateway_rejected_total', { reason: 'topic_mismatch' });
    const before = [await denied(), await mismatched()];
    await device.publishAsync(`devices/${home.serial}-other/events`, '{"id":"spoof","type":"sos","ts":1}', { qos: 1 }).catch(() => undefined);
    await eventually(async () => (await denied()) === before[0] + 1, 10_000, 'the refusal counted by the gateway');
    expect(await mismatched()).toBe(before[1] + 1);

    // and a device with a wrong secret: Mosquitto refuses it, the gateway counts it by the reason the registry gives
    const badSecret = () => gateway.metric('linan_gateway_connect_refused_total', { reason: 'bad_credentials' });
    const refusedBefore = await badSecret();
    expect(await tryDeviceConnect(stack.services.deviceMqttUrl, { clientId: home.serial, username: home.serial, password: 'not-its-secret' }))
      .toMatchObject({ ok: false });
    await eventually(async () => (await badSecret()) === refusedBefore + 1, 10_000, 'the refused connection counted by the gateway');
  }, 60_000);

  it('shares the partitions between two triage replicas, and one killed mid-burst hands its partitions over: every home exactly one alert', async () => {
    const homes = await seedHomes(stack.provisioning, 40, 'tri');
    const clients = await connectHomes(stack, homes);
    const [a, b] = [stack.app('triage-a'), stack.app('triage-b')];
    const [a0, b0] = [await a.metric(OPENED), await b.metric(OPENED)];

    // The burst comes in two halves. Triage-a is killed as soon as both replicas have opened alerts from the first
    // half (it may still hold messages it has not stored); the second half is pressed right after the kill, so its
    // events land on triage-a's partitions too and must wait for the hand-over. On a busy machine the replicas may
    // finish the first half before the kill: the second half still tests the hand-over.
    const half = homes.length / 2;
    const pressAll = async (from: number, to: number) => {
      const presses: Promise<void>[] = [];
      for (let i = from; i < to; i++) {
        presses.push(press(clients[i], homes[i], `tri-${i}`));
        await sleep(50);
      }
      await Promise.all(presses);
    };
    const firstHalf = pressAll(0, half);
    const deadline = Date.now() + 30_000;
    while (!((await a.metric(OPENED)) > a0 && (await b.metric(OPENED)) > b0)) {
      if (Date.now() > deadline) throw new Error('the two triage replicas did not both open alerts from the first half');
      await sleep(25);
    }
    await a.kill('SIGKILL');
    await Promise.all([firstHalf, pressAll(half, homes.length)]);

    // the survivor takes triage-a's partitions once its session times out (10 s) and carries on from the stored offsets
    const alerts = await waitForAlerts(stack, homes, 45_000);
    expect(alerts).toHaveLength(homes.length);
    expect(alerts.every((x) => x.type === 'sos' && x.eventCount === 1)).toBe(true);
    for (const alert of alerts) {
      const ds = await eventually(async () => {
        const all = await dispatchesOf(stack, alert.id);
        return all.some((d) => d.channel === 'sms') ? all : undefined;
      }, 15_000, `dispatches of alert ${alert.id}`);
      // one dispatch per recipient and round: nothing sent twice
      expect(new Set(ds.map((d) => `${d.round}/${d.recipientKind}/${d.recipientId}`)).size).toBe(ds.length);
    }
    // a hand-over is neither a log that started over nor messages lost to retention (the survivor's checks of batches
    // against the stored offsets raised nothing)
    expect(await b.metric('linan_consumer_log_restarts_total')).toBe(0);
    expect(await b.metric('linan_consumer_lost_messages_total')).toBe(0);
  }, 120_000);

  it('splits device messages between two gateway replicas, and a killed one loses no acknowledged event once it is back under its client id', async () => {
    const homes = await seedHomes(stack.provisioning, 12, 'gw');
    const clients = await connectHomes(stack, homes);
    const a = stack.app('gateway-a');
    const b = await stack.add({ app: 'gateway', name: 'gateway-b', env: { MQTT_CLIENT_ID: 'gw-b', ...FEW_SESSIONS } });
    const [a0, b0] = [await a.metric(...GATEWAY_EVENTS), await b.metric(...GATEWAY_EVENTS)];

    // both replicas take their share of the share group's messages
    await Promise.all(homes.map((h, i) => press(clients[i], h, `gw-sos-${i}`, 'sos')));
    await waitForAlerts(stack, homes, 15_000, 'sos');
    expect(await a.metric(...GATEWAY_EVENTS)).toBeGreaterThan(a0);
    expect(await b.metric(...GATEWAY_EVENTS)).toBeGreaterThan(b0);

    // gateway-b is killed in the middle of a second round; every press is still acknowledged by Mosquitto
    let acked = 0;
    const presses: Promise<void>[] = [];
    for (let i = 0; i < homes.length; i++) {
      presses.push(press(clients[i], homes[i], `gw-fall-${i}`, 'fall').then(() => void acked++));
      if (i === 3) await b.kill('SIGKILL');
      await sleep(50);
    }
    await Promise.all(presses);
    expect(acked).toBe(homes.length);
    // Mosquitto keeps routing gateway-b's share to its sessions while it is down: those events wait there
    await sleep(2_000);
    expect((await alertsOf(stack, homes, 'fall')).length).toBeLessThan(homes.length);

    await b.restart();
    const falls = await waitForAlerts(stack, homes, 20_000, 'fall');
    expect(falls).toHaveLength(homes.length);
    expect(falls.every((x) => x.eventCount === 1)).toBe(true);
    expect(await alertsOf(stack, homes, 'sos')).toHaveLength(homes.length);
  }, 90_000);
  it('dispatch killed mid-burst and started again: every alert\'s dispatches recorded once each and all sent', async () => {
    const homes = await seedHomes(stack.provisioning, 20, 'dsp');
    const clients = await connectHomes(stack, homes);
    const dispatch = stack.app('dispatch');
    const sent0 = await dispatch.metric('linan_dispatches_total', { status: 'sent' });

    // the kill comes once dispatch has sent some of the first half: it may hold requests it has recorded and not
    // sent, or sent and not yet stored as sent; the second half waits in Kafka for the restarted process
    const presses: Promise<void>[] = [];
    for (let i = 0; i < homes.length / 2; i++) {
      presses.push(press(clients[i], homes[i], `dsp-${i}`));
      await sleep(50);
    }
    await eventually(async () => (await dispatch.metric('linan_dispatches_total', { status: 'sent' })) > sent0, 20_000, 'dispatch sending');
    await dispatch.kill('SIGKILL');
    for (let i = homes.length / 2; i < homes.length; i++) presses.push(press(clients[i], homes[i], `dsp-${i}`));
    await Promise.all(presses);
    const restartedAt = Date.now();
    await dispatch.restart();

    const alerts = await waitForAlerts(stack, homes, 30_000);
    expect(alerts).toHaveLength(homes.length);
    const smsIds = new Set<string>();
    for (const alert of alerts) {
      // the restarted process goes on from the offsets stored with the dispatches; what it finds recorded and not
      // sent, its sweeper sends (after a grace of 10 s)
      const ds = await waitForDispatchesSent(stack, alert.id, 45_000, `the dispatches of alert ${alert.id} all sent`);
      expect(new Set(ds.map((d) => `${d.round}/${d.recipientKind}/${d.recipientId}/${d.channel}`)).size).toBe(ds.length);
      expect(ds.filter((d) => d.recipientKind === 'aide' && d.channel === 'sms').map((d) => d.recipientId).sort()).toEqual([...aides].sort());
      expect(ds.filter((d) => d.recipientKind === 'family' && d.channel === 'sms')).toHaveLength(1);
      ds.filter((d) => d.channel === 'sms').forEach((d) => smsIds.add(d.id));
    }
    // the fake provider's list is shared (Redis): the restarted process lists what the killed one sent, and its own
    const outbox = await stack.console.on(dispatch.httpUrl).get<{ items: { reference: string; at: string }[] }>('/api/v1/embedded/sms');
    const ours = outbox.items.filter((m) => smsIds.has(m.reference));
    expect(ours.some((m) => Date.parse(m.at) < restartedAt)).toBe(true);
    expect(ours.some((m) => Date.parse(m.at) >= restartedAt)).toBe(true);
    // resuming from the stored offsets after a crash raised neither check of batches against them
    expect(await dispatch.metric('linan_consumer_log_restarts_total')).toBe(0);
    expect(await dispatch.metric('linan_consumer_lost_messages_total')).toBe(0);
  }, 150_000);

  it('sends what a dispatch process recorded and never sent (it died between the two): the running one\'s sweeper claims it after the grace', async () => {
    const home = await seedHome(stack.provisioning, 'swept');
    const [device] = await connectHomes(stack, [home]);
    await press(device, home, 'swept-sos');
    const [alert] = await waitForAlerts(stack, [home], 15_000);
    await waitForDispatchesSent(stack, alert.id, 15_000, 'the first call-out sent');
    const dispatch = stack.app('dispatch');
    const sent0 = await dispatch.metric('linan_dispatches_total', { status: 'sent' });

    // what the dead process left: a dispatch recorded as pending a minute ago (its offset stored with it, so no
    // redelivery brings it back), written as dispatch records one, beside the alert's others
    const db = new Client({ connectionString: stack.env.DATABASE_URL });
    await db.connect();
    let id: string;
    try {
      ({ rows: [{ id }] } = await db.query<{ id: string }>(
        `INSERT INTO dispatches (id, alert_id, round, recipient_kind, recipient_id, recipient_name, channel, status, attempts,
                                 destination, body, context, created_at, updated_at)
         SELECT gen_random_uuid(), alert_id, round, recipient_kind, 'aide-left-pending', '留下的助老员', channel, 'pending', 0,
                destination, body, context, now() - interval '1 minute', now() - interval '1 minute'
           FROM dispatches WHERE alert_id = $1 AND recipient_kind = 'aide' AND channel = 'sms' LIMIT 1
         RETURNING id`,
        [alert.id],
      ));
    } finally {
      await db.end();
    }

    // the sweeper runs every 5 s and takes what has been pending for 10 s
    const swept = await eventually(async () => (await dispatchesOf(stack, alert.id)).find((d) => d.id === id && d.status === 'sent'), 20_000, 'the pending dispatch sent');
    expect(swept).toMatchObject({ recipientId: 'aide-left-pending', channel: 'sms' });
    expect(await dispatch.metric('linan_dispatches_total', { status: 'sent' })).toBe(sent0 + 1);
    const detail = await stack.console.get<{ timeline: { kind: string; details: { dispatchId?: string } }[] }>(`/api/v1/alerts/${alert.id}`);
    expect(detail.timeline.filter((t) => t.kind === 'dispatch_sent' && t.details.dispatchId === id)).toHaveLength(1);
    // sent once: later sweeps leave it alone
    await sleep(6_000);
    expect(await dispatch.metric('linan_dispatches_total', { status: 'sent' })).toBe(sent0 + 1);
  }, 60_000);
});
