import { readEnvironment, type RawEnv } from '@linan/platform';
import { startKafkaMock, type KafkaMock } from './services/kafka';
import { startMosquitto, type RunningMosquitto } from './services/mosquitto';
import { createTestDatabase, type TestDatabase } from './services/postgres';
import { redisNamespace, type RedisNamespace } from './services/redis';

/**
 * `TEST_SERVICES=real` runs the behavioural suite on real services instead of the embedded parts: PostgreSQL,
 * Redis, Mosquitto (the project's config) and a Kafka-protocol broker. `npm run test:services` sets it.
 */
export function realServicesRequested(): boolean {
  return readEnvironment().TEST_SERVICES === 'real';
}

export interface ServiceSet {
  /** The platform's environment for distributed mode on these services. */
  env: RawEnv;
  /** Where devices connect (the broker's device listener, not the service account's URL). */
  deviceMqttUrl: string;
  kafka: KafkaMock;
  database: TestDatabase;
  redis: RedisNamespace;
  mosquitto: RunningMosquitto;
  close(): Promise<void>;
}

/**
 * A set of services of its own for one test platform, so parallel spec files never share topics, consumer groups,
 * tables, keys or broker sessions: a fresh database on the test PostgreSQL, a key prefix on the test Redis, and a
 * Kafka mock cluster and a Mosquitto instance started for it on free ports.
 */
export async function startServices(): Promise<ServiceSet> {
  const started: { close(): Promise<unknown> }[] = [];
  try {
    const [kafka, database, mosquitto] = await Promise.all([
      startKafkaMock().then((k) => (started.push({ close: k.stop }), k)),
      createTestDatabase().then((d) => (started.push({ close: d.drop }), d)),
      startMosquitto().then((m) => (started.push({ close: m.stop }), m)),
    ]);
    const redis = redisNamespace();
    started.push({ close: redis.cleanup });
    return {
      env: {
        DATABASE_URL: database.url, KAFKA_BROKERS: kafka.brokers, REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.keyPrefix,
        MQTT_URL: mosquitto.serviceUrl, KAFKA_MAX_WAIT_MS: '20', OUTBOX_SWEEP_MS: '200',
      },
      deviceMqttUrl: mosquitto.url,
      kafka, database, redis, mosquitto,
      close: () => closeAll(started),
    };
  } catch (e) {
    await closeAll(started);
    throw e;
  }
}

async function closeAll(started: { close(): Promise<unknown> }[]): Promise<void> {
  // the platform is stopped first by the caller; the database goes last (its drop forces connections closed)
  await Promise.allSettled(started.reverse().map((s) => s.close()));
}
