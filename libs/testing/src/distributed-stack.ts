import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { REPO_ROOT } from './child-platform';
import { describeUnlessMissing } from './describe-when';
import { startKafkaMock, type KafkaMock } from './services/kafka';
import { DYNSEC_PLUGIN_CANDIDATES, MOSQUITTO_PLUGIN_HEADERS, startMosquitto, type RunningMosquitto } from './services/mosquitto';
import { createTestDatabase, testPostgresServer, type TestDatabase } from './services/postgres';
import { startRedisServer, type RedisServer } from './services/redis';

const runs = (file: string, args: string[]) => {
  const r = spawnSync(file, args, { stdio: 'ignore', timeout: 5_000 });
  return r.error === undefined;
};

/** Whether the test PostgreSQL answers, decided synchronously (jest picks describe or describe.skip at load). */
function postgresAnswersSync(url: string): boolean {
  const probe = `const { Client } = require('pg'); const c = new Client({ connectionString: ${JSON.stringify(url)}, connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => process.exit(0), () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { cwd: REPO_ROOT, stdio: 'ignore', timeout: 6_000 }).status === 0;
}

/**
 * What this machine lacks to run the platform's apps as separate processes on real services: kcat (the Kafka mock
 * cluster), mosquitto with its dynamic-security plugin, what builds the project's own plugin (deploy/mosquitto/plugin),
 * a PostgreSQL server, redis-server. Empty when all is there.
 */
export function distributedPrerequisitesMissing(): string[] {
  const missing: string[] = [];
  if (!runs('kcat', ['-V'])) missing.push('kcat (apt-get install -y kcat)');
  if (!runs('mosquitto', ['-h']) || !DYNSEC_PLUGIN_CANDIDATES.some((p) => existsSync(p))) missing.push('mosquitto with its dynamic-security plugin (apt-get install -y mosquitto mosquitto-clients)');
  if (!runs('cc', ['--version']) || !MOSQUITTO_PLUGIN_HEADERS.every((h) => existsSync(`/usr/include/${h}`))) {
    missing.push('a C compiler and Mosquitto\'s headers for the project\'s broker plugin (apt-get install -y gcc mosquitto-dev libmosquitto-dev)');
  }
  if (!runs('redis-server', ['--version'])) missing.push('redis-server (apt-get install -y redis-server)');
  if (!postgresAnswersSync(testPostgresServer())) missing.push(`a PostgreSQL server at ${testPostgresServer().replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')} (or set TEST_POSTGRES_URL)`);
  return missing;
}

/**
 * `describe` when the machine has every service the distributed mode needs; otherwise `describe.skip` with what is
 * missing in the suite's name and one warning, so the run says what it did not test instead of passing quietly.
 */
export function describeDistributed(name: string, fn: () => void): void {
  const missing = distributedPrerequisitesMissing();
  describeUnlessMissing(name, missing.length ? `missing ${missing.join('; ')}` : null, fn);
}

export interface DistributedServices {
  /** What every app's process gets: the four services (the Kafka fetch wait and outbox sweep short for tests). */
  env: Record<string, string>;
  /** Where devices connect (no credentials), as opposed to the platform's MQTT_URL. */
  deviceMqttUrl: string;
  kafka: KafkaMock;
  database: TestDatabase;
  mosquitto: RunningMosquitto;
  /** A redis-server of its own, so a test may stop and restart it under the apps. */
  redis: RedisServer;
  close(): Promise<void>;
}

/**
 * Services of its own for one distributed test run, started in parallel: a Kafka mock cluster, a fresh database on
 * the test PostgreSQL, the project's Mosquitto on a free port and a private redis-server.
 */
export async function startDistributedServices(): Promise<DistributedServices> {
  const started = await Promise.allSettled([startKafkaMock(), createTestDatabase('linan_dist'), startMosquitto(), startRedisServer()] as const);
  const [kafka, database, mosquitto, redis] = started;
  const close = async () => {
    await Promise.allSettled([
      kafka.status === 'fulfilled' ? kafka.value.stop() : undefined,
      mosquitto.status === 'fulfilled' ? mosquitto.value.stop() : undefined,
      redis.status === 'fulfilled' ? redis.value.stop() : undefined,
    ]);
    // last: its drop forces any connection still open closed
    if (database.status === 'fulfilled') await database.value.drop().catch(() => undefined);
  };
  if (kafka.status === 'rejected' || database.status === 'rejected' || mosquitto.status === 'rejected' || redis.status === 'rejected') {
    await close();
    throw started.find((s): s is PromiseRejectedResult => s.status === 'rejected')!.reason;
  }
  return {
    env: {
      DATABASE_URL: database.value.url, KAFKA_BROKERS: kafka.value.brokers, REDIS_URL: redis.value.url, MQTT_URL: mosquitto.value.serviceUrl,
      KAFKA_MAX_WAIT_MS: '20', OUTBOX_SWEEP_MS: '200',
    },
    deviceMqttUrl: mosquitto.value.url,
    kafka: kafka.value, database: database.value, mosquitto: mosquitto.value, redis: redis.value,
    close,
  };
}

/** A small client of one app's HTTP API, signed in as the admin. */
export class AppApi {
  private constructor(readonly baseUrl: string, private readonly token: string) {}

  static async login(baseUrl: string, username: string, password: string): Promise<AppApi> {
    const r = await new AppApi(baseUrl, '').request<{ accessToken: string }>('POST', '/api/v1/auth/login', { username, password });
    return new AppApi(baseUrl, r.accessToken);
  }

  /** The same token against another app (tokens verify in every app: one JWT_SECRET). */
  on(baseUrl: string): AppApi {
    return new AppApi(baseUrl, this.token);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(this.baseUrl + path, {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${this.baseUrl}${path} → ${r.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : null) as T;
  }
}
