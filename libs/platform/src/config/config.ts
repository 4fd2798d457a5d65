import { z } from 'zod';

/** The apps of the platform; embedded mode runs the ones listed in APPS (all by default) in one process. */
export const APP_NAMES = ['gateway', 'triage', 'dispatch', 'provisioning', 'console'] as const;
export type AppName = (typeof APP_NAMES)[number];

const port = (def: number) => z.coerce.number().int().min(0).max(65535).default(def);
const optionalUrl = (protocols: string[]) =>
  z.string().trim().min(1).optional().refine(
    (v) => v === undefined || protocols.some((p) => v.startsWith(`${p}://`)),
    { message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}` },
  );

const envSchema = z.object({
  PORT: port(3000),
  HTTP_HOST: z.string().default('0.0.0.0'),
  // behind an edge proxy (nginx, an Ingress): how many proxy hops to trust for the client address (X-Forwarded-For)
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  MQTT_PORT: port(1883),
  MQTT_HOST: z.string().default('0.0.0.0'),
  DC09_PORT: port(9000),
  DATA_DIR: z.string().min(1).default('./data'),
  ADMIN_USERNAME: z.string().regex(/^[A-Za-z0-9._-]{3,32}$/, '3–32 characters of A-Z a-z 0-9 . _ -').default('admin'),
  ADMIN_PASSWORD: z.string().min(8, 'at least 8 characters').optional(),
  JWT_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  JWT_TTL_S: z.coerce.number().int().positive().default(12 * 3600),
  LOGIN_ATTEMPTS_PER_MINUTE: z.coerce.number().int().min(1).default(10),
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']),
  EMBEDDED_DB_THREAD: z.enum(['main', 'worker']).default('main'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATABASE_STATEMENT_CACHE: z.coerce.number().int().min(0).max(10_000).default(100),
  KAFKA_BROKERS: z.string().trim().min(1).optional().refine(
    (v) => v === undefined || kafkaBrokers(v) !== null,
    { message: 'must be host:port[,host:port...]' },
  ),
  REDIS_URL: optionalUrl(['redis', 'rediss']),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 : . _ -').default('linan:'),
  MQTT_URL: optionalUrl(['mqtt', 'mqtts', 'tcp', 'ws', 'wss']),
  MQTT_CLIENT_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 _ . -').optional(),
  MQTT_SHARE_GROUP: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 _ -').default('linan-gateway'),
  // how long Mosquitto keeps a stopped gateway's session and queued messages; messages still queued after that are lost
  MQTT_SESSION_EXPIRY_S: z.coerce.number().int().min(60).max(4_294_967_294).default(24 * 3600),
  MQTT_GATEWAY_CONNECTIONS: z.coerce.number().int().min(1).max(64).default(16),
  MQTT_ADMIN_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  KAFKA_MAX_WAIT_MS: z.coerce.number().int().min(1).max(10_000).default(100),
  KAFKA_LINGER_MS: z.coerce.number().int().min(0).max(1_000).default(0),
  KAFKA_FETCH_GATHER_MS: z.coerce.number().int().min(0).max(1_000).default(5),
  // how old a message a consumer group skipped over (its database restored or failed over to an older state) may be
  // and still be applied again from Kafka; older ones are only reported lost. 0: none is applied again
  KAFKA_REPLAY_MAX_AGE_S: z.coerce.number().int().min(0).max(7 * 24 * 3600).default(3600),
  OUTBOX_SWEEP_MS: z.coerce.number().int().min(10).default(1000),
  BUS_PARTITIONS: z.coerce.number().int().min(1).max(64).default(4),
  BUS_POLL_MS: z.coerce.number().int().min(10).default(500),
  BUS_RETENTION_HOURS: z.coerce.number().positive().default(168),
  ESCALATION_ACK_TIMEOUT_S: z.coerce.number().positive().default(60),
  ESCALATION_MAX_ROUNDS: z.coerce.number().int().min(0).default(3),
  TIMER_POLL_MS: z.coerce.number().int().min(10).default(1000),
  CONSUMER_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(5),
  CONSUMER_RETRY_BASE_MS: z.coerce.number().int().min(1).default(200),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  SMS_PROVIDER: z.enum(['fake']).default('fake'),
  APPS: z.string().default(APP_NAMES.join(',')).transform((v, ctx) => {
    const list = v.split(',').map((a) => a.trim()).filter(Boolean);
    const unknown = list.filter((a) => !(APP_NAMES as readonly string[]).includes(a));
    if (unknown.length || list.length === 0) {
      ctx.addIssue({ code: 'custom', message: `unknown app(s) "${unknown.join(', ')}"; choose from ${APP_NAMES.join(', ')}` });
    }
    return list as AppName[];
  }),
});

export type RawEnv = Record<string, string | undefined>;

/** KAFKA_BROKERS as a list of host:port, or null when it is not one (also for the scripts that need only Kafka). */
export function kafkaBrokers(value: string): string[] | null {
  const list = value.split(',').map((b) => b.trim());
  return list.every((b) => /^[^\s:,]+:\d+$/.test(b)) ? list : null;
}

export interface AppConfig {
  readonly http: { readonly port: number; readonly host: string; readonly trustProxyHops: number };
  readonly mqtt: {
    readonly port: number; readonly host: string; readonly url?: string; readonly shareGroup: string; readonly clientId?: string;
    /** External broker: the gateway's session expiry, and how long a device-account command may take. */
    readonly sessionExpirySeconds: number; readonly adminTimeoutMs: number;
    /** Sessions each gateway replica holds in the share group (messages in flight at once). */
    readonly gatewayConnections: number;
  };
  readonly dc09: { readonly port: number };
  readonly dataDir: string;
  readonly admin: { readonly username: string; readonly password?: string };
  readonly jwt: { readonly secret?: string; readonly ttlSeconds: number; readonly loginAttemptsPerMinute: number };
  readonly database: { readonly url?: string; readonly poolSize: number; readonly statementCache: number; readonly embeddedThread: 'main' | 'worker' };
  readonly kafka: { readonly brokers?: readonly string[]; readonly maxWaitMs: number; readonly lingerMs: number; readonly fetchGatherMs: number; readonly replayMaxAgeMs: number };
  readonly redis: { readonly url?: string; readonly keyPrefix: string };
  readonly outbox: { readonly sweepMs: number };
  readonly bus: { readonly partitions: number; readonly pollMs: number; readonly maxAttempts: number; readonly retryBaseMs: number; readonly retentionMs: number };
  readonly escalation: { readonly ackTimeoutMs: number; readonly maxRounds: number; readonly pollMs: number };
  readonly log: { readonly level: string; readonly pretty: boolean };
  readonly sms: { readonly provider: 'fake' };
  /**
   * Distributed when KAFKA_BROKERS, REDIS_URL and DATABASE_URL are set (each app may then run as its own process);
   * embedded otherwise (DATABASE_URL alone only moves the embedded platform's data to PostgreSQL).
   */
  readonly mode: 'embedded' | 'distributed';
  readonly apps: readonly AppName[];
}

/** A reason the process cannot start that the operator can fix (bad setting, busy port, locked data folder). */
export class StartupError extends Error {
  override name = 'StartupError';
}

export class ConfigError extends StartupError {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    Object.values(o).forEach(deepFreeze);
    Object.freeze(o);
  }
  return o;
}

/** An address to show or connect to for a listen address: 0.0.0.0 (every interface) is reached at 127.0.0.1. */
export function displayHost(listenHost: string): string {
  return listenHost === '0.0.0.0' ? '127.0.0.1' : listenHost;
}

/**
 * The MQTT client ids of a gateway replica's sessions (MQTT_CLIENT_ID, MQTT_GATEWAY_CONNECTIONS): its own id for one
 * session, `<id>-<i>` for each of several. Each is a persistent session at the broker under that id.
 */
export function gatewaySessionIds(clientId: string, connections: number): string[] {
  return connections === 1 ? [clientId] : Array.from({ length: connections }, (_, i) => `${clientId}-${i}`.slice(-64));
}

/** The process environment: the only place that reads it. Everything else gets the validated AppConfig. */
export function readEnvironment(): RawEnv {
  return { ...process.env };
}

/** Validates the whole environment at once; every bad key is reported. */
export function loadConfig(env: RawEnv): AppConfig {
  const blanked = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === '' ? undefined : v]));
  const r = envSchema.safeParse(blanked);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = r.data;
  const distributed = [e.KAFKA_BROKERS, e.REDIS_URL, e.MQTT_URL].some((v) => v !== undefined);
  if (distributed) {
    // one service without the others would split state between processes (a memory cache per replica, an embedded
    // database no second process can open): every key the distributed mode needs must be set together
    const needsBroker = e.APPS.some((a) => a === 'gateway' || a === 'provisioning');
    const missing = [
      !e.DATABASE_URL && 'DATABASE_URL',
      !e.KAFKA_BROKERS && 'KAFKA_BROKERS',
      !e.REDIS_URL && 'REDIS_URL',
      needsBroker && !e.MQTT_URL && 'MQTT_URL',
    ].filter((k): k is string => Boolean(k));
    if (missing.length) {
      const set = ['KAFKA_BROKERS', 'REDIS_URL', 'MQTT_URL'].filter((k) => e[k as 'MQTT_URL'] !== undefined).join(', ');
      throw new ConfigError(missing.map((k) => `${k}: required in distributed mode (${set} set)${
        k === 'MQTT_URL' ? ' for the gateway and provisioning apps' : ''}; set it, or unset ${set} to run embedded`));
    }
  }
  return deepFreeze({
    http: { port: e.PORT, host: e.HTTP_HOST, trustProxyHops: e.TRUST_PROXY_HOPS },
    mqtt: {
      port: e.MQTT_PORT, host: e.MQTT_HOST, url: e.MQTT_URL, shareGroup: e.MQTT_SHARE_GROUP, clientId: e.MQTT_CLIENT_ID,
      sessionExpirySeconds: e.MQTT_SESSION_EXPIRY_S, adminTimeoutMs: e.MQTT_ADMIN_TIMEOUT_MS, gatewayConnections: e.MQTT_GATEWAY_CONNECTIONS,
    },
    dc09: { port: e.DC09_PORT },
    dataDir: e.DATA_DIR,
    admin: { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD },
    jwt: { secret: e.JWT_SECRET, ttlSeconds: e.JWT_TTL_S, loginAttemptsPerMinute: e.LOGIN_ATTEMPTS_PER_MINUTE },
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE, statementCache: e.DATABASE_STATEMENT_CACHE, embeddedThread: e.EMBEDDED_DB_THREAD },
    kafka: { brokers: e.KAFKA_BROKERS === undefined ? undefined : kafkaBrokers(e.KAFKA_BROKERS)!, maxWaitMs: e.KAFKA_MAX_WAIT_MS, lingerMs: e.KAFKA_LINGER_MS, fetchGatherMs: e.KAFKA_FETCH_GATHER_MS, replayMaxAgeMs: e.KAFKA_REPLAY_MAX_AGE_S * 1000 },
    redis: { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX },
    outbox: { sweepMs: e.OUTBOX_SWEEP_MS },
    bus: {
      partitions: e.BUS_PARTITIONS, pollMs: e.BUS_POLL_MS, maxAttempts: e.CONSUMER_MAX_ATTEMPTS, retryBaseMs: e.CONSUMER_RETRY_BASE_MS,
      retentionMs: Math.round(e.BUS_RETENTION_HOURS * 3600_000),
    },
    escalation: { ackTimeoutMs: Math.round(e.ESCALATION_ACK_TIMEOUT_S * 1000), maxRounds: e.ESCALATION_MAX_ROUNDS, pollMs: e.TIMER_POLL_MS },
    log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    sms: { provider: e.SMS_PROVIDER },
    mode: distributed ? 'distributed' : 'embedded',
    apps: e.APPS,
  });
}

/**
 * The class half of the AppConfig declaration merge: Nest injects the frozen config by this class,
 * so consumers write `constructor(private readonly config: AppConfig)`.
 */
// eslint-disable-next-line @typescript-eslint/no-extraneous-class
export abstract class AppConfig {}
