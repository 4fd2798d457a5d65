/**
 * The naive chain: the least code that does the alarm path's durable work on the same services, for the bench to
 * measure beside the platform in the same run (`BENCH_DIST_NAIVE`, docs/performance.md). It is not the product and
 * nothing else runs it. Three roles, each its own process, like the platform's apps:
 *
 * - `gateway`: mqtt.js sessions in a shared subscription to devices' events on Mosquitto; each message goes to Kafka
 *   (acks all, keyed by household) and is acknowledged to the device (PUBACK) once Kafka has it.
 * - `triage`: a kafkajs consumer group; per batch one transaction inserts the alerts, the device events and two
 *   timeline rows per alert, then it produces one dispatch request per alert.
 * - `dispatch`: a kafkajs consumer group; per batch it chooses recipients (the community's on-duty aides, the
 *   family, the operators), records the dispatches in one transaction, "sends" them (a provider reference, as the
 *   platform's fake SMS provider gives), then stores the outcomes, a timeline row each and the alerts' move to
 *   `dispatched` in a second transaction.
 *
 * What the platform does besides and this does not: validation of every field, deduplication and presence in
 * Redis, the outbox (events published only after their transaction commits), offsets stored with the effects,
 * retry and dead-letter topics, the alert-change events and live console views, escalation timers, metrics, logs,
 * health of every dependency. Kafka offsets are committed by kafkajs after each batch.
 *
 * Environment: DATABASE_URL, KAFKA_BROKERS, MQTT_URL (with the service account), PORT (GET /health: 200 once
 * running), KAFKA_MAX_WAIT_MS, MQTT_GATEWAY_CONNECTIONS. Usage: node dist/scripts/naive-chain.js gateway|triage|dispatch
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import mqtt from 'mqtt';
import { Pool, type PoolClient } from 'pg';
import { readEnvironment } from '../libs/platform/src/config/config';

export const NAIVE_TOPICS = { events: 'naive.device-events.v1', requests: 'naive.dispatch-requests.v1' } as const;
export const NAIVE_ROLES = ['gateway', 'triage', 'dispatch'] as const;
export type NaiveRole = (typeof NAIVE_ROLES)[number];

interface NaiveEvent {
  eventId: string;
  deviceEventId: string;
  deviceId: string;
  serial: string;
  householdId: string;
  type: string;
  deviceTs: number;
  receivedAt: number;
}

interface NaiveRequest {
  alertId: string;
  householdId: string;
  type: string;
  deviceTs: number;
}

const environment = readEnvironment();
const env = (name: string, fallback?: string): string => {
  const v = environment[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};

const iso = (ms: number) => new Date(ms).toISOString();

function kafkaOf(role: NaiveRole): Kafka {
  return new Kafka({ clientId: `naive-${role}`, brokers: env('KAFKA_BROKERS').split(','), logLevel: logLevel.ERROR });
}

async function producerOf(kafka: Kafka): Promise<Producer> {
  const p = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  return p;
}

/** A kafkajs consumer with its defaults but the fetch wait, subscribed to `topic`. */
async function consumerOf(kafka: Kafka, groupId: string, topic: string): Promise<Consumer> {
  const c = kafka.consumer({ groupId, maxWaitTimeInMs: Number(env('KAFKA_MAX_WAIT_MS', '100')), allowAutoTopicCreation: true });
  await c.connect();
  await c.subscribe({ topic });
  return c;
}

const poolOf = (role: NaiveRole) => new Pool({ connectionString: env('DATABASE_URL'), max: 4, application_name: `linan-naive-${role}` });

async function inTransaction<T>(pool: Pool, work: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const r = await work(c);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}

/** The gateway: MQTT sessions → Kafka, PUBACK once Kafka has the event. */
async function gateway(): Promise<() => Promise<void>> {
  const pool = poolOf('gateway');
  const devices = new Map((await pool.query<{ serial: string; id: string; household_id: string }>(
    `SELECT serial, id, household_id FROM devices WHERE household_id IS NOT NULL AND status <> 'decommissioned'`,
  )).rows.map((d) => [d.serial, d]));
  const producer = await producerOf(kafkaOf('gateway'));
  let queue: { event: NaiveEvent; ack: () => void }[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    // a failed send is not acknowledged: its sessions then wait (mqtt.js hands them nothing more) and the bench
    // reports their alarms missing
    producer.send({
      topic: NAIVE_TOPICS.events, acks: -1,
      messages: batch.map((b) => ({ key: b.event.householdId, value: JSON.stringify(b.event) })),
    }).then(() => batch.forEach((b) => b.ack()), (e: Error) => process.stderr.write(`naive gateway: produce failed: ${e.message}\n`));
  };
  const url = new URL(env('MQTT_URL'));
  const clients = Array.from({ length: Number(env('MQTT_GATEWAY_CONNECTIONS', '16')) }, (_, i) => {
    const c = mqtt.connect(`mqtt://${url.host}`, {
      clientId: `naive-gateway-${i}`, username: decodeURIComponent(url.username), password: decodeURIComponent(url.password),
      protocolVersion: 4, clean: true, reconnectPeriod: 1000,
    });
    // mqtt.js reads the next message of a session once this callback is called: the PUBACK waits for Kafka
    c.handleMessage = (packet, done) => {
      if (packet.cmd !== 'publish') return done();
      const serial = packet.topic.split('/')[1];
      const device = devices.get(serial);
      let body: { id?: string; type?: string; ts?: number };
      try {
        body = JSON.parse(packet.payload.toString());
      } catch {
        return done();
      }
      if (!device || typeof body.id !== 'string' || typeof body.type !== 'string' || typeof body.ts !== 'number') return done();
      queue.push({
        event: {
          eventId: randomUUID(), deviceEventId: body.id, deviceId: device.id, serial, householdId: device.household_id,
          type: body.type, deviceTs: body.ts, receivedAt: Date.now(),
        },
        ack: () => done(),
      });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
    return c;
  });
  await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => {
    c.once('connect', () => c.subscribe('$share/naive/devices/+/events', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    c.once('error', reject);
  })));
  return async () => {
    await Promise.all(clients.map((c) => c.endAsync()));
    await producer.disconnect();
    await pool.end();
  };
}

/** Triage: device events → alerts with their events and timeline, then a dispatch request per alert. */
async function triage(): Promise<() => Promise<void>> {
  const pool = poolOf('triage');
  const kafka = kafkaOf('triage');
  const producer = await producerOf(kafka);
  const consumer = await consumerOf(kafka, 'naive-triage', NAIVE_TOPICS.events);
  const policy = JSON.stringify({ ackTimeoutMs: 600_000, maxAideRounds: 2 });
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      const events = batch.messages.map((m) => JSON.parse(m.value!.toString()) as NaiveEvent);
      if (!events.length) return;
      const now = Date.now();
      const opened = await inTransaction(pool, async (c) => {
        const homes = new Map((await c.query<{ id: string; district: string; community: string }>(
          'SELECT id, district, community FROM households WHERE id = ANY($1::uuid[])', [[...new Set(events.map((e) => e.householdId))]],
        )).rows.map((h) => [h.id, h]));
        const fresh = events.filter((e) => homes.has(e.householdId));
        const ids = fresh.map(() => randomUUID());
        // an alert already open for the household and type takes no second one (the unique index decides)
        const inserted = new Set((await c.query<{ id: string }>(
          `INSERT INTO alerts (id, household_id, device_id, type, priority, status, district, community, opened_at, first_device_ts, policy)
           SELECT id, household_id, device_id, type, 'P1', 'open', district, community, $7::timestamptz, first_device_ts, $8::jsonb
             FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $9::timestamptz[])
                  AS v (id, household_id, device_id, type, district, community, first_device_ts)
           ON CONFLICT (household_id, type) WHERE status <> 'resolved' DO NOTHING RETURNING id`,
          [ids, fresh.map((e) => e.householdId), fresh.map((e) => e.deviceId), fresh.map((e) => e.type),
            fresh.map((e) => homes.get(e.householdId)!.district), fresh.map((e) => homes.get(e.householdId)!.community), iso(now), policy,
            fresh.map((e) => iso(e.deviceTs))],
        )).rows.map((r) => r.id));
        const alertOf = (i: number) => (inserted.has(ids[i]) ? ids[i] : null);
        await c.query(
          `INSERT INTO device_events (id, device_id, device_event_id, household_id, type, state, device_ts, received_at, alert_id)
           SELECT id, device_id, device_event_id, household_id, type, 'alarm', device_ts, received_at, alert_id
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::uuid[])
                  AS v (id, device_id, device_event_id, household_id, type, device_ts, received_at, alert_id)
           ON CONFLICT (device_id, device_event_id) DO NOTHING`,
          [fresh.map((e) => e.eventId), fresh.map((e) => e.deviceId), fresh.map((e) => e.deviceEventId), fresh.map((e) => e.householdId),
            fresh.map((e) => e.type), fresh.map((e) => iso(e.deviceTs)), fresh.map((e) => iso(e.receivedAt)), fresh.map((_, i) => alertOf(i))],
        );
        const log = fresh.flatMap((e, i) => {
          const id = alertOf(i);
          return id ? [
            { id, at: e.receivedAt, kind: 'event_received', actor: `device:${e.serial}`, details: { deviceEventId: e.deviceEventId, type: e.type, deviceTs: e.deviceTs } },
            { id, at: now, kind: 'alert_opened', actor: 'system:triage', details: { priority: 'P1' } },
          ] : [];
        });
        await c.query(
          `INSERT INTO alert_log (alert_id, at, kind, actor, details)
           SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])`,
          [log.map((l) => l.id), log.map((l) => iso(l.at)), log.map((l) => l.kind), log.map((l) => l.actor), log.map((l) => JSON.stringify(l.details))],
        );
        return fresh.flatMap((e, i): NaiveRequest[] => (alertOf(i) ? [{ alertId: ids[i], householdId: e.householdId, type: e.type, deviceTs: e.deviceTs }] : []));
      });
      if (opened.length) {
        await producer.send({ topic: NAIVE_TOPICS.requests, acks: -1, messages: opened.map((r) => ({ key: r.householdId, value: JSON.stringify(r) })) });
      }
    },
  });
  return async () => {
    await consumer.disconnect();
    await producer.disconnect();
    await pool.end();
  };
}

interface Row {
  id: string;
  alertId: string;
  kind: 'aide' | 'family' | 'operators';
  recipientId: string;
  name: string;
  channel: 'sms' | 'console';
  destination: string | null;
  body: string;
}

/** Dispatch: requests → recipients recorded, "sent", outcomes stored with the timeline and the alert's status. */
async function dispatch(): Promise<() => Promise<void>> {
  const pool = poolOf('dispatch');
  const kafka = kafkaOf('dispatch');
  const consumer = await consumerOf(kafka, 'naive-dispatch', NAIVE_TOPICS.requests);
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatch: async ({ batch }) => {
      const requests = batch.messages.map((m) => JSON.parse(m.value!.toString()) as NaiveRequest);
      if (!requests.length) return;
      const homes = new Map((await pool.query<{ id: string; name: string; district: string; community: string; address: string; contacts: { name: string; phone: string }[] }>(
        'SELECT id, name, district, community, address, contacts FROM households WHERE id = ANY($1::uuid[])', [[...new Set(requests.map((r) => r.householdId))]],
      )).rows.map((h) => [h.id, h]));
      const aides = (await pool.query<{ id: string; name: string; phone: string; district: string; community: string }>(
        'SELECT id, name, phone, district, community FROM aides WHERE on_duty AND district = ANY($1::text[]) ORDER BY id',
        [[...new Set([...homes.values()].map((h) => h.district))]],
      )).rows;
      const rows: Row[] = [];
      const contexts = new Map<string, string>();
      for (const r of requests) {
        const h = homes.get(r.householdId);
        if (!h) continue;
        const ref = r.alertId.slice(0, 8);
        contexts.set(r.alertId, JSON.stringify({ householdId: h.id, householdName: h.name, community: h.community, type: r.type, deviceTs: r.deviceTs }));
        const local = aides.filter((a) => a.community === h.community);
        for (const a of (local.length ? local.slice(0, 3) : aides.slice(0, 2))) {
          rows.push({ id: randomUUID(), alertId: r.alertId, kind: 'aide', recipientId: a.id, name: a.name, channel: 'sms', destination: a.phone,
            body: `【邻安】${h.community}${h.name}按下了紧急呼叫，地址${h.address}，请尽快上门查看（${ref}）` });
        }
        h.contacts.forEach((c, i) => rows.push({ id: randomUUID(), alertId: r.alertId, kind: 'family', recipientId: `contact-${i}`, name: c.name, channel: 'sms',
          destination: c.phone, body: `【邻安】您的家人${h.name}按下了紧急呼叫，助老员正在赶去（${ref}）` }));
        rows.push({ id: randomUUID(), alertId: r.alertId, kind: 'operators', recipientId: 'operators', name: '监控中心', channel: 'console', destination: null,
          body: `P1 紧急呼叫 · ${h.community}` });
      }
      const now = Date.now();
      const recorded = await inTransaction(pool, async (c) => new Set((await c.query<{ id: string }>(
        `INSERT INTO dispatches (id, alert_id, round, recipient_kind, recipient_id, recipient_name, channel, status, destination, body, context, created_at, updated_at)
         SELECT id, alert_id, 0, recipient_kind, recipient_id, recipient_name, channel, 'pending', destination, body, context, $9::timestamptz, $9::timestamptz
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $10::jsonb[])
                AS v (id, alert_id, recipient_kind, recipient_id, recipient_name, channel, destination, body, context)
         ON CONFLICT (alert_id, round, recipient_kind, recipient_id, channel) DO NOTHING RETURNING id`,
        [rows.map((x) => x.id), rows.map((x) => x.alertId), rows.map((x) => x.kind), rows.map((x) => x.recipientId), rows.map((x) => x.name),
          rows.map((x) => x.channel), rows.map((x) => x.destination), rows.map((x) => x.body), iso(now), rows.map((x) => contexts.get(x.alertId))],
      )).rows.map((x) => x.id)));
      // "sending": what the platform's fake SMS provider gives back, a reference per message
      const sent = rows.filter((x) => recorded.has(x.id)).map((x) => ({ ...x, providerRef: x.channel === 'sms' ? `fake-${randomUUID()}` : null, at: Date.now() }));
      if (!sent.length) return;
      await inTransaction(pool, async (c) => {
        await c.query(
          `UPDATE dispatches d SET status = 'sent', attempts = 1, provider_ref = v.ref, updated_at = v.at
             FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS v (id, ref, at) WHERE d.id = v.id`,
          [sent.map((x) => x.id), sent.map((x) => x.providerRef), sent.map((x) => iso(x.at))],
        );
        await c.query(
          `INSERT INTO alert_log (alert_id, at, kind, actor, details)
           SELECT alert_id, at, 'dispatch_sent', 'system:dispatch', details FROM unnest($1::uuid[], $2::timestamptz[], $3::jsonb[]) AS v (alert_id, at, details)`,
          [sent.map((x) => x.alertId), sent.map((x) => iso(x.at)),
            sent.map((x) => JSON.stringify({ dispatchId: x.id, recipientKind: x.kind, recipientName: x.name, channel: x.channel, status: 'sent', attempts: 1, round: 0 }))],
        );
        await c.query(`UPDATE alerts SET status = 'dispatched' WHERE id = ANY($1::uuid[]) AND status = 'open'`, [[...new Set(sent.map((x) => x.alertId))]]);
      });
    },
  });
  return async () => {
    await consumer.disconnect();
    await pool.end();
  };
}

async function main(): Promise<void> {
  const role = process.argv[2] as NaiveRole;
  if (!NAIVE_ROLES.includes(role)) throw new Error(`usage: naive-chain.js ${NAIVE_ROLES.join('|')}`);
  let ready = false;
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/health' && ready ? 200 : req.url === '/metrics' ? 200 : 503, { 'content-type': 'text/plain' });
    res.end(req.url === '/metrics' ? '' : ready ? 'ok' : 'starting');
  });
  await new Promise<void>((r) => server.listen(Number(env('PORT')), '127.0.0.1', r));
  const stop = await { gateway, triage, dispatch }[role]();
  ready = true;
  process.stdout.write(`naive ${role} running\n`);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => void stop().finally(() => server.close(() => process.exit(0))));
  }
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`naive chain: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
