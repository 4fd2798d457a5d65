import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StartupError } from '../config/config';

/**
 * How long a command may wait for an answer. Every caller of the cache fails open (dedup) or ignores the failure
 * (presence), so a short wait is what keeps a device's acknowledgement quick while Redis is in trouble.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
/** Reconnect attempts back off up to this; a restarted Redis is found again within this long. */
export const REDIS_MAX_RECONNECT_DELAY_MS = 1_000;
/** A first connection that does not complete in this long counts as failed. */
const CONNECT_TIMEOUT_MS = 2_000;
/** A closing socket that has not closed after this long is destroyed (ioredis waits 2 s, holding the process open). */
const DISCONNECT_TIMEOUT_MS = 200;

export interface RedisConnectionOptions {
  url: string;
  /** Shown in `CLIENT LIST` and in log lines (cache, live-pub, live-sub). */
  name: string;
  commandTimeoutMs?: number;
  /** ioredis's own key prefix, for clients that name keys themselves (a library's); our adapters prefix their keys. */
  keyPrefix?: string;
}

const reconnectForever = (attempt: number) => Math.min(attempt * 100, REDIS_MAX_RECONNECT_DELAY_MS);

/**
 * A connection for request-path commands. While Redis is unreachable a command fails at once instead of waiting in
 * the offline queue (enableOfflineQueue: false), a command in flight when the connection drops fails instead of being
 * resent after a reconnect (maxRetriesPerRequest: 0; its caller has moved on), and a command on a connection that
 * has stopped answering fails after commandTimeout. The client keeps reconnecting on its own, forever. Commands
 * issued in the same turn of the event loop (a gateway's sessions each checking an event id) go to Redis as one
 * pipeline (ioredis's enableAutoPipelining): one write and one read instead of one each per command.
 */
export function openCommandConnection(o: RedisConnectionOptions, log: Logger): Redis {
  return watch(new Redis(o.url, {
    connectionName: o.name,
    keyPrefix: o.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs ?? REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    retryStrategy: reconnectForever,
  } satisfies RedisOptions), o.name, log);
}

/**
 * A connection in subscriber mode. Nothing waits on it, so SUBSCRIBE may queue until the connection is up; ioredis
 * repeats the subscriptions after every reconnect (autoResubscribe).
 */
export function openSubscriberConnection(o: RedisConnectionOptions, log: Logger): Redis {
  return watch(new Redis(o.url, {
    connectionName: o.name,
    lazyConnect: true,
    autoResubscribe: true,
    maxRetriesPerRequest: null,
    connectTimeout: CONNECT_TIMEOUT_MS,
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    retryStrategy: reconnectForever,
  } satisfies RedisOptions), o.name, log);
}

/**
 * One warning when a working connection is lost and one line when it is back, not one per reconnect attempt.
 * The `error` listener also keeps ioredis from reporting every failed attempt as an unhandled error.
 */
function watch(client: Redis, name: string, log: Logger): Redis {
  let state: 'new' | 'up' | 'lost' = 'new';
  let lastError = '';
  client.on('error', (err: Error) => void (lastError = err.message));
  client.on('reconnecting', () => {
    if (state !== 'up') return;
    state = 'lost';
    log.warn({ connection: name, err: lastError || undefined }, 'Redis connection lost; reconnecting');
  });
  client.on('ready', () => {
    if (state === 'lost') log.info({ connection: name }, 'Redis connection back');
    state = 'up';
    lastError = '';
  });
  return client;
}

/** The URL without its password, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'an unparsable URL';
  }
}

/**
 * The first connection, made before the app serves anything: an unreachable Redis at boot is a configuration
 * problem (wrong REDIS_URL) and stops the boot with the address tried; later outages are ridden out.
 */
export async function connectOrFail(client: Redis, url: string): Promise<void> {
  let reason: Error | undefined;
  const remember = (err: Error) => (reason ??= err);
  client.on('error', remember);
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    throw new StartupError(`cannot reach Redis at ${redactRedisUrl(url)} (REDIS_URL): ${(reason ?? (e as Error)).message}`, { cause: e });
  } finally {
    client.off('error', remember);
  }
}

/** Closes politely when Redis answers, at once when it does not (QUIT would fail fast anyway). */
export async function closeConnection(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}
