import { portIsFree } from '../../libs/testing/src/services/free-port';
import { APP_NAMES, ConfigError, loadConfig, type AppConfig, type AppName, type RawEnv } from '@linan/platform';

/** What every app needs to run as its own process, and what each one stands for. */
export const DISTRIBUTED_KEYS = {
  DATABASE_URL: 'postgres://user:password@host:5432/linan',
  KAFKA_BROKERS: 'host:9092[,host:9092...]',
  REDIS_URL: 'redis://host:6379/0',
  MQTT_URL: 'mqtt://user:password@host:1883 (the platform’s service account on Mosquitto)',
} as const;

export type DistributedCheck = { ok: true; config: AppConfig } | { ok: false; message: string };

/**
 * Checks the environment for `npm run start:distributed`: valid as a whole, and with every distributed service
 * named. The message says what is wrong and what to do, for a person at a terminal.
 */
export function checkDistributedEnvironment(env: RawEnv): DistributedCheck {
  const all: RawEnv = { ...env, APPS: APP_NAMES.join(',') };
  let config: AppConfig;
  try {
    config = loadConfig(all);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { ok: false, message: `${e.message}\n\n${usage()}` };
  }
  const unset = (Object.keys(DISTRIBUTED_KEYS) as (keyof typeof DISTRIBUTED_KEYS)[]).filter((k) => !(all[k] ?? '').trim());
  if (config.mode !== 'distributed' || unset.length) {
    return { ok: false, message: `npm run start:distributed: ${unset.join(', ')} ${unset.length === 1 ? 'is' : 'are'} not set.\n\n${usage()}` };
  }
  return { ok: true, config };
}

function usage(): string {
  return [
    'npm run start:distributed runs each app as its own process on real services; set all of:',
    ...Object.entries(DISTRIBUTED_KEYS).map(([k, v]) => `  ${k.padEnd(14)} ${v}`),
    'See docs/deployment.md for every setting. To run everything in one process without any service: npm start',
  ].join('\n');
}

/** The environment of one app's process: the operator's settings, that app alone, its own port, local only. */
export function appEnvironment(env: RawEnv, app: AppName, port: number): Record<string, string> {
  const own: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) own[k] = v;
  // every app sits behind the launcher's proxy: one hop of X-Forwarded-For is the client
  return { TRUST_PROXY_HOPS: '1', ...own, APPS: app, PORT: String(port), HTTP_HOST: '127.0.0.1' };
}

/** `scheme://user:secret@host` → `scheme://user:***@host`, for printing service addresses. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/**
 * Before any app starts: the apps' ports (in APP_NAMES order) that something already holds, each named with its app
 * and what to do, or null when all are free. The usual holder is an app of an earlier launcher that was killed with
 * SIGKILL (its apps outlive it); the app would otherwise fail on its own with a message about PORT alone.
 */
export async function takenAppPorts(ports: readonly number[]): Promise<string | null> {
  const free = await Promise.all(ports.map(portIsFree));
  const taken = ports.map((port, i) => ({ app: APP_NAMES[i], port })).filter((_, i) => !free[i]);
  if (!taken.length) return null;
  return [
    `The apps' ports are PORT+1 … PORT+${ports.length} on 127.0.0.1, and ${taken.map((t) => `${t.port} (${t.app})`).join(', ')} ${taken.length === 1 ? 'is' : 'are'} already in use.`,
    'Most likely the apps of an earlier start:distributed are still running (a launcher killed with SIGKILL leaves its apps behind):',
    '  list them:  pgrep -af "dist/apps/.*/main.js"',
    '  stop them:  pkill -f "dist/apps/.*/main.js"',
    `Or set PORT so that PORT+1 … PORT+${ports.length} are free.`,
  ].join('\n');
}
