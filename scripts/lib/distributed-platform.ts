/**
 * The distributed mode under the bench: the services it runs on (librdkafka's mock cluster for Kafka, the project's
 * own Mosquitto, a fresh database on the machine's PostgreSQL, started by the test helpers, and a redis-server of its
 * own, so its CPU is the platform's alone), and every app as its own process from `dist/apps/<app>/main.js`, with the environment `npm run
 * start:distributed` would give it. The bench reaches the apps' HTTP API through the same edge proxy, hosted in the
 * bench's process, and reads each round back from PostgreSQL (the record of truth).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import mqtt from 'mqtt';
import { Client } from 'pg';
import { APP_NAMES, gatewaySessionIds, type AppName } from '@linan/platform';
import { startKafkaMock, type KafkaMock } from '../../libs/testing/src/services/kafka';
import { startMosquitto, type RunningMosquitto } from '../../libs/testing/src/services/mosquitto';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../libs/testing/src/services/postgres';
import { ApiClient } from './api';
import type { AlertRecord, AppMetrics, BenchTarget, RoundSource } from './bench-round';
import { appMetricsOf } from './api-round-source';
import { appEnvironment, checkDistributedEnvironment } from './distributed-env';
import { createEdgeProxy, type EdgeProxy, type Upstream } from './edge-proxy';
import { appMain, freePort, onInterrupt, REPO_ROOT, startNodeProcess, type NodeProcess } from './platform-process';
import { listProcesses, memoryOf, type Accounted } from './proc-stats';
import { fmt } from './stats';

export interface DistributedOptions {
  /** Gateway replicas to start with (more can be added). */
  gateways: number;
  /** Platform settings for every app (KAFKA_MAX_WAIT_MS, MQTT_GATEWAY_CONNECTIONS, …). */
  env: Record<string, string>;
  /** Extra node options and settings per app process, by its label (gateway-1, triage, …): a profiler hook. */
  perApp?: (label: string) => { nodeArgs?: string[]; env?: Record<string, string> };
  log: (line: string) => void;
}

export interface AppProcess extends NodeProcess {
  app: AppName;
  port: number;
  /** A gateway's MQTT_CLIENT_ID: its sessions at Mosquitto are named after it. */
  mqttClientId?: string;
}

export interface DistributedPlatform {
  edgeUrl: string;
  /** Where devices connect: Mosquitto's listener (devices bring their own credentials). */
  deviceMqttUrl: string;
  adminPassword: string;
  apps: AppProcess[];
  kafka: KafkaMock;
  mosquitto: RunningMosquitto;
  database: TestDatabase;
  redis: BenchRedis;
  /** The environment every app got (secrets left out). */
  shownEnv: Record<string, string>;
  startupMs: number;
  /** Starts gateway replicas until there are `total`. */
  scaleGateways(total: number): Promise<void>;
  /**
   * Stops gateway, triage and dispatch (ending the gateways' MQTT sessions, so nothing queues for them) and starts
   * the naive chain's three processes in their place on the same services (scripts/naive-chain.ts).
   */
  useNaiveChain(): Promise<void>;
  /** The platform under test, named for the report. */
  target(name: string, api: ApiClient): BenchTarget;
  memory(): Record<string, { rss: number; peakRss: number } | null>;
  stop(): Promise<void>;
}

const gatewayClientId = (i: number) => `bench-gateway-${i}`;

export async function startDistributedPlatform(o: DistributedOptions): Promise<DistributedPlatform> {
  if (!(await postgresAvailable())) throw new Error('PostgreSQL does not answer on 127.0.0.1:5432 (or TEST_POSTGRES_URL): the distributed run needs it');
  const t0 = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch((e: unknown) => o.log(`cleanup: ${(e as Error).message}`));
  };
  const forget = onInterrupt(cleanup);
  try {
    const [kafka, database, mosquitto, redis] = await Promise.all([
      startKafkaMock().then((k) => (cleanups.push(k.stop), k)),
      createTestDatabase('linan_bench').then((d) => (cleanups.push(d.drop), d)),
      startMosquitto().then((m) => (cleanups.push(m.stop), m)),
      startBenchRedis().then((r) => (cleanups.push(r.stop), r)),
    ]);
    o.log(`services: Kafka mock ${kafka.brokers}, Mosquitto ${mosquitto.url}, PostgreSQL database ${database.name}, Redis ${redis.url}`);

    const adminPassword = randomBytes(12).toString('base64url');
    const base: Record<string, string> = {
      LOG_LEVEL: 'warn', ESCALATION_ACK_TIMEOUT_S: '600', ...o.env,
      DATABASE_URL: database.url, KAFKA_BROKERS: kafka.brokers, REDIS_URL: redis.url,
      MQTT_URL: mosquitto.serviceUrl, ADMIN_PASSWORD: adminPassword, JWT_SECRET: o.env.JWT_SECRET ?? randomBytes(32).toString('base64url'),
    };
    const check = checkDistributedEnvironment(base);
    if (!check.ok) throw new Error(check.message);
    const { config } = check;

    const apps: AppProcess[] = [];
    cleanups.push(() => Promise.all(apps.map((a) => a.stop(15_000))));
    const startApp = async (app: AppName, label: string, extra: Record<string, string> = {}): Promise<AppProcess> => {
      const port = await freePort();
      const own = o.perApp?.(label) ?? {};
      const p = await startNodeProcess({
        label, main: appMain(app), env: { ...appEnvironment(base, app, port), ...extra, ...own.env },
        httpUrl: `http://127.0.0.1:${port}`, healthTimeoutMs: 120_000, nodeArgs: own.nodeArgs,
      });
      const a: AppProcess = { ...p, app, port, mqttClientId: extra.MQTT_CLIENT_ID };
      apps.push(a);
      return a;
    };
    const gatewayCount = () => apps.filter((a) => a.app === 'gateway').length;
    const addGateway = () => {
      const i = gatewayCount() + 1;
      return startApp('gateway', `gateway-${i}`, { MQTT_CLIENT_ID: gatewayClientId(i) });
    };
    // migrations run under an advisory lock, so every app may start at once
    await Promise.all([
      ...Array.from({ length: o.gateways }, () => addGateway()),
      ...APP_NAMES.filter((a) => a !== 'gateway').map((a) => startApp(a, a)),
    ]);
    sortApps(apps);

    const upstream = (app: AppName): Upstream => ({ host: '127.0.0.1', port: apps.find((a) => a.app === app)!.port });
    const edge: EdgeProxy = createEdgeProxy({
      upstreams: new Map(APP_NAMES.map((a) => [a, upstream(a)])),
      health: async () => ({ ok: true, body: { status: 'ok' } }),
      log: (l) => o.log(`edge: ${l}`),
    });
    const edgePort = await edge.listen(0, '127.0.0.1');
    cleanups.push(() => edge.close());

    const reader = new Client({ connectionString: database.url });
    await reader.connect();
    cleanups.push(() => reader.end());
    const source = new SqlRoundSource(reader);

    const accounted = async (): Promise<Accounted[]> => {
      const mine = listProcesses().filter((p) => p.ppid === process.pid);
      const backends = await reader.query<{ pid: number; backend_type: string; datname: string | null; application_name: string; own: boolean }>(
        `SELECT pid, backend_type, datname, application_name, pid = pg_backend_pid() AS own FROM pg_stat_activity
          WHERE datname = $1 OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`,
        [database.name],
      );
      return [
        ...apps.map((a): Accounted => ({ label: a.label, kind: 'platform', pid: a.pid })),
        ...mine.filter((p) => p.comm === 'mosquitto' && p.cmdline.includes(mosquitto.dir)).map((p): Accounted => ({ label: 'mosquitto', kind: 'service', pid: p.pid })),
        ...mine.filter((p) => p.comm === 'kcat').map((p): Accounted => ({ label: 'kafka (kcat mock)', kind: 'service', pid: p.pid })),
        ...backends.rows.map((r): Accounted => (r.own ? { label: 'postgres (the bench\'s reads)', kind: 'bench', pid: r.pid } : {
          // each app names its connections (application_name linan-<app>)
          label: !r.datname ? 'postgres (WAL writer, checkpointer)' : `postgres (${r.application_name.replace(/^linan-/, '') || 'other'})`, kind: 'service', pid: r.pid,
        })),
        { label: 'redis', kind: 'service', pid: redis.pid },
        { label: 'bench (devices, edge proxy, reads)', kind: 'bench', pid: process.pid },
      ];
    };

    const appMetrics = async (): Promise<Record<string, AppMetrics>> => Object.fromEntries(await Promise.all(
      apps.map(async (a) => [a.label, appMetricsOf(await fetch(`${a.httpUrl}/metrics`).then((r) => r.text(), () => ''))] as const),
    ));

    const { ADMIN_PASSWORD: _a, JWT_SECRET: _j, ...shown } = base;
    return {
      edgeUrl: `http://127.0.0.1:${edgePort}`,
      deviceMqttUrl: mosquitto.url,
      adminPassword, apps, kafka, mosquitto, database, redis,
      shownEnv: { ...shown, DATABASE_URL: `postgres://…/${database.name}`, MQTT_URL: `mqtt://linan:***@127.0.0.1:${mosquitto.port}` },
      startupMs: Date.now() - t0,
      async scaleGateways(total: number) {
        const added: AppProcess[] = [];
        while (gatewayCount() < total) added.push(await addGateway());
        sortApps(apps);
        if (added.length) o.log(`gateway replicas: ${gatewayCount()} (${added.map((a) => `${a.label} pid ${a.pid}`).join(', ')})`);
      },
      async useNaiveChain() {
        const replaced = apps.filter((a) => a.app === 'gateway' || a.app === 'triage' || a.app === 'dispatch');
        await Promise.all(replaced.map((a) => a.stop(15_000)));
        apps.splice(0, apps.length, ...apps.filter((a) => !replaced.includes(a)));
        const { mqtt: { gatewayConnections }, kafka: { maxWaitMs } } = config;
        await endMqttSessions(mosquitto.serviceUrl, replaced.flatMap((a) => (a.mqttClientId ? gatewaySessionIds(a.mqttClientId, gatewayConnections) : [])));
        const main = join(REPO_ROOT, 'dist', 'scripts', 'naive-chain.js');
        for (const role of ['dispatch', 'triage', 'gateway'] as const) {
          const port = await freePort();
          const p = await startNodeProcess({
            label: `naive-${role}`, main, args: [role], httpUrl: `http://127.0.0.1:${port}`, nodeArgs: o.perApp?.(`naive-${role}`).nodeArgs,
            env: {
              PORT: String(port), DATABASE_URL: base.DATABASE_URL, KAFKA_BROKERS: base.KAFKA_BROKERS, MQTT_URL: base.MQTT_URL,
              KAFKA_MAX_WAIT_MS: String(maxWaitMs), MQTT_GATEWAY_CONNECTIONS: String(gatewayConnections),
            },
          });
          apps.push({ ...p, app: role, port });
        }
        sortApps(apps);
        o.log(`naive chain in place of gateway, triage and dispatch: ${apps.filter((a) => a.label.startsWith('naive-')).map((a) => `${a.label} pid ${a.pid}`).join(', ')}`);
      },
      target: (name, api) => ({ name, api, source, accounted, appMetrics }),
      memory: () => Object.fromEntries(apps.map((a) => [a.label, memoryOf(a.pid)])),
      async stop() {
        forget();
        await cleanup();
      },
    };
  } catch (e) {
    forget();
    await cleanup();
    throw e;
  }
}

/** In the order of APP_NAMES, replicas by label: how reports and logs list them. */
const sortApps = (apps: AppProcess[]) => apps.sort((a, b) => APP_NAMES.indexOf(a.app) - APP_NAMES.indexOf(b.app) || a.label.localeCompare(b.label));

/**
 * Ends MQTT sessions that outlive their clients (the gateways' persistent sessions in the share group): a clean start
 * with the same client id and no session expiry discards the old session and its queue.
 */
async function endMqttSessions(url: string, clientIds: string[]): Promise<void> {
  await Promise.all(clientIds.map(async (clientId) => {
    const c = await mqtt.connectAsync(url, { clientId, protocolVersion: 5, clean: true, properties: { sessionExpiryInterval: 0 }, reconnectPeriod: 0 });
    await c.endAsync();
  }));
}

export interface BenchRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A redis-server of the bench's own on a free port, without persistence (the shared one on 6379 serves other
 * people's tests, whose work would be counted as the platform's).
 */
async function startBenchRedis(timeoutMs = 10_000): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'linan-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  let failure: Error | null = null;
  child.once('error', (e) => (failure = new Error(`cannot run redis-server (apt-get install -y redis-server): ${e.message}`)));
  const url = `redis://127.0.0.1:${port}`;
  const stop = () => new Promise<void>((done) => {
    rmSync(dir, { recursive: true, force: true });
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', () => done());
    child.kill('SIGTERM');
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (failure) throw failure;
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => undefined); // not listening yet: asked again below
    const ok = await r.connect().then(() => r.ping(), () => null).finally(() => r.disconnect());
    if (ok === 'PONG') return { url, pid: child.pid!, stop };
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms`);
    }
    await new Promise((r2) => setTimeout(r2, 50));
  }
}

/**
 * A round's alerts read straight from PostgreSQL, the record of truth, with the same fields the console's API shows
 * (alert createdAt = opened_at, timeline = alert_log, dispatches). One statement per poll and one per round, where
 * the API would take a request per alert (its queue lists at most 500) on the same 2 cores as the platform.
 */
export class SqlRoundSource implements RoundSource {
  readonly pollMs = 100;
  private autovacuum: boolean | undefined;
  constructor(private readonly db: Client) {}

  /**
   * What autovacuum does on a server that has it on (the default, and what docs/deployment.md asks for): the round's
   * dead rows (alerts through their states, dispatch results, outbox rows) reclaimed and the tables analyzed. This
   * machine's PostgreSQL runs with autovacuum off, which no deployment should; the vacuum runs between rounds, outside
   * the CPU counted per alarm, and the round's line says how long it took.
   */
  async betweenRounds(): Promise<string | null> {
    this.autovacuum ??= (await this.db.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0].autovacuum === 'on';
    if (this.autovacuum) return null;
    const t0 = Date.now();
    await this.db.query('VACUUM (ANALYZE)');
    return `vacuumed in ${fmt((Date.now() - t0) / 1000)} s (the server's autovacuum is off)`;
  }

  async progress(households: ReadonlySet<string>) {
    const r = await this.db.query<{ opened: string; dispatched: string }>(
      `SELECT count(*) AS opened, count(*) FILTER (WHERE status <> 'open') AS dispatched
         FROM alerts WHERE household_id = ANY($1::uuid[]) AND status <> 'resolved'`,
      [[...households]],
    );
    return { opened: Number(r.rows[0].opened), dispatched: Number(r.rows[0].dispatched) };
  }

  async read(households: ReadonlySet<string>): Promise<AlertRecord[]> {
    const ms = (col: string) => `(extract(epoch FROM ${col}) * 1000)::float8`;
    const r = await this.db.query<{
      id: string; household_id: string; event_count: number; created: number; received: number | null;
      dispatch_created: number | null; first_sent: number | null; on_timeline: number | null;
    }>(
      `SELECT a.id, a.household_id, a.event_count, ${ms('a.opened_at')} AS created,
              (SELECT ${ms('min(l.at)')} FROM alert_log l WHERE l.alert_id = a.id AND l.kind = 'event_received') AS received,
              (SELECT ${ms('min(l.at)')} FROM alert_log l WHERE l.alert_id = a.id AND l.kind = 'dispatch_sent') AS on_timeline,
              (SELECT ${ms('min(d.created_at)')} FROM dispatches d WHERE d.alert_id = a.id AND d.round = 0) AS dispatch_created,
              (SELECT ${ms('min(d.updated_at)')} FROM dispatches d
                WHERE d.alert_id = a.id AND d.round = 0 AND d.recipient_kind = 'aide' AND d.status = 'sent') AS first_sent
         FROM alerts a WHERE a.household_id = ANY($1::uuid[]) AND a.status <> 'resolved'`,
      [[...households]],
    );
    const n = (x: number | null) => (x === null ? NaN : Number(x));
    return r.rows.map((x) => ({
      id: x.id, householdId: x.household_id, eventCount: Number(x.event_count), createdAt: n(x.created), eventReceivedAt: n(x.received),
      dispatchCreatedAt: n(x.dispatch_created), firstAideSentAt: n(x.first_sent), dispatchSentOnTimelineAt: n(x.on_timeline),
    }));
  }
}
