import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APP_NAMES, ConfigError, loadConfig, type AppName, type RawEnv } from '@linan/platform';
import { REPO } from './served-routes';

/** `node dist/apps/<app>/main.js` → the app, or a problem. */
export function appOfCommand(where: string, command: unknown): { app?: AppName; problems: string[] } {
  const argv = Array.isArray(command) ? command.map(String) : typeof command === 'string' ? command.trim().split(/\s+/) : [];
  const m = /^dist\/apps\/([a-z-]+)\/main\.js$/.exec(argv[1] ?? '');
  if (argv.length !== 2 || argv[0] !== 'node' || !m) {
    return { problems: [`${where}: command ${JSON.stringify(command)} is not ["node", "dist/apps/<app>/main.js"]`] };
  }
  const app = m[1] as AppName;
  if (!APP_NAMES.includes(app) || !existsSync(join(REPO, 'apps', app, 'src', 'main.ts'))) {
    return { problems: [`${where}: command runs "${app}", which is not an app (${APP_NAMES.join(', ')})`] };
  }
  return { app, problems: [] };
}

/**
 * The environment as the app will read it: valid for loadConfig, in distributed mode, on PostgreSQL, with APPS
 * covering the app it runs (loadConfig then demands MQTT_URL exactly when gateway or provisioning is among them).
 */
export function appEnvProblems(where: string, app: AppName, env: RawEnv): string[] {
  try {
    const config = loadConfig(env);
    const problems: string[] = [];
    if (config.mode !== 'distributed') problems.push(`${where}: not in distributed mode (KAFKA_BROKERS, REDIS_URL and MQTT_URL unset)`);
    if (!config.database.url) problems.push(`${where}: DATABASE_URL unset: every replica would open its own embedded database`);
    if (!config.apps.includes(app)) problems.push(`${where}: APPS=${env.APPS} does not include ${app}, which the command runs`);
    return problems;
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${where}: ${p}`);
    throw e;
  }
}

/** Names that hold secrets: passwords, secrets, tokens, keys (REDIS_KEY_PREFIX is not one). */
export const isSecretName = (name: string) => /PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)KEY$/i.test(name);

/** The password of a `scheme://user:password@host` URL, if any. */
export const urlPassword = (value: string): string | undefined => /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value)?.[1];

/** A value may be written into a deployment file only if it is clearly an example. */
export const isMarkedExample = (value: string) => /example|change-?me/i.test(value);

/** `host:port` of a service URL or a broker list entry. */
export function hostPort(value: string, defaultPort: number): { host: string; port: number } | undefined {
  const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^@/\s]*@)?([^:/\s,]+)(?::(\d+))?/i.exec(value.trim());
  return m ? { host: m[1], port: m[2] ? Number(m[2]) : defaultPort } : undefined;
}
