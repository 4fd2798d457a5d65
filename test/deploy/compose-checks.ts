import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppName, RawEnv } from '@linan/platform';
import { appEnvProblems, appOfCommand, hostPort, isMarkedExample, isSecretName, urlPassword } from './common';
import { MOSQUITTO_BUILD_CONTEXT, platformUserProblems } from './mosquitto-checks';
import { REPO } from './served-routes';

export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: unknown;
  environment?: Record<string, unknown> | string[];
  healthcheck?: { test?: unknown; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
  expose?: unknown[];
  ports?: unknown[];
  volumes?: unknown[];
  deploy?: { replicas?: number };
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
}

/** docker compose's variable substitution: $$, ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}, $V. */
export function interpolate(value: string, vars: RawEnv, where: string, problems: string[]): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (all === '$$') return '$';
      const key = (braced ?? bare)!;
      const v = vars[key];
      const missing = op?.startsWith(':') ? v === undefined || v === '' : v === undefined;
      if (op?.endsWith('-')) return missing ? arg ?? '' : v!;
      if (op?.endsWith('?')) {
        if (missing) problems.push(`${where}: ${key} is required (${arg})`);
        return v ?? '';
      }
      return v ?? '';
    });
}

/** KEY=VALUE lines (comments and blanks skipped), as in .env files and deploy/compose.env.example. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** The ENV of the Dockerfile's last stage: what every container starts with before compose adds its own. */
export function dockerfileEnv(dockerfile: string): Record<string, string> {
  const stages = dockerfile.replace(/\\\n/g, ' ').split(/^FROM\s/m);
  const out: Record<string, string> = {};
  for (const line of stages[stages.length - 1].split('\n')) {
    const m = /^ENV\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const pair of m[1].matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) out[pair[1]] = pair[2].replace(/^"|"$/g, '');
  }
  return out;
}

export function rawEnvironment(s: ComposeService): Record<string, string> {
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(s.environment.map((e) => {
      const i = String(e).indexOf('=');
      return i < 0 ? [String(e), ''] : [String(e).slice(0, i), String(e).slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}

export interface ComposeApp {
  name: string;
  service: ComposeService;
  app: AppName;
  /** What the process sees: the image's ENV, then the service's environment, substituted. */
  env: Record<string, string>;
}

/** A service's build context, from `build: <dir>` or `build: {context: <dir>}`, without a leading ./ ('.' for the root). */
export function buildContext(s: ComposeService): string | undefined {
  const b = s.build as string | { context?: string } | undefined;
  const dir = typeof b === 'string' ? b : b?.context;
  return dir === undefined ? undefined : dir.replace(/^\.\/(?=.)/, '').replace(/\/$/, '') || '.';
}
const builtFromRoot = (s: ComposeService) => buildContext(s) === '.';

/** The services built from the project's Dockerfile (or running its image), each with the app its command starts. */
export function composeApps(compose: ComposeFile, vars: RawEnv, baseEnv: Record<string, string>): { apps: ComposeApp[]; problems: string[] } {
  const problems: string[] = [];
  const apps: ComposeApp[] = [];
  const ourImages = new Set(Object.values(compose.services).filter((s) => builtFromRoot(s) && s.image).map((s) => s.image));
  for (const [name, s] of Object.entries(compose.services)) {
    if (!builtFromRoot(s) && !(s.image && ourImages.has(s.image))) continue;
    const r = appOfCommand(`service ${name}`, s.command);
    problems.push(...r.problems);
    if (!r.app) continue;
    const env: Record<string, string> = { ...baseEnv };
    for (const [k, v] of Object.entries(rawEnvironment(s))) env[k] = interpolate(v, vars, `service ${name} ${k}`, problems);
    apps.push({ name, service: s, app: r.app, env });
  }
  if (!apps.length) problems.push('no service runs an app (node dist/apps/<app>/main.js)');
  return { apps, problems };
}

const healthUrl = (test: unknown) => /https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):(\d+)(\/[^'"\s)]*)/.exec(JSON.stringify(test ?? ''));

/** Every app service: valid configuration, port = PORT = health check port, health check on /health. */
export function composeAppProblems(apps: ComposeApp[]): string[] {
  const problems: string[] = [];
  for (const { name, service, app, env } of apps) {
    problems.push(...appEnvProblems(`service ${name}`, app, env));
    const port = Number(env.PORT ?? 3000);
    const h = healthUrl(service.healthcheck?.test);
    if (!h || service.healthcheck?.disable) problems.push(`service ${name}: no health check on http://127.0.0.1:<PORT>/health`);
    else {
      if (Number(h[1]) !== port) problems.push(`service ${name}: the health check calls port ${h[1]}, the app listens on PORT ${port}`);
      if (h[2] !== '/health') problems.push(`service ${name}: the health check calls ${h[2]}, not /health`);
    }
    const exposed = [...(service.expose ?? []), ...(service.ports ?? [])].map((p) => Number(String(p).split(':').pop()!.split('/')[0]));
    if (!exposed.includes(port)) problems.push(`service ${name}: port ${port} (PORT) is not in expose or ports`);
  }
  // one gateway session per client id: two gateways with one id would take each other's session over and over
  const gateways = apps.filter((a) => a.app === 'gateway');
  for (const g of gateways) {
    if (!g.env.MQTT_CLIENT_ID) problems.push(`service ${g.name}: MQTT_CLIENT_ID unset (each gateway needs a stable id of its own)`);
    if ((g.service.deploy?.replicas ?? 1) > 1) problems.push(`service ${g.name}: ${g.service.deploy?.replicas} replicas would share one MQTT_CLIENT_ID; use one service per gateway`);
  }
  const ids = gateways.map((g) => g.env.MQTT_CLIENT_ID).filter(Boolean);
  if (new Set(ids).size !== ids.length) problems.push(`gateways share an MQTT_CLIENT_ID: ${ids.join(', ')}`);
  // a token signed by one app must verify in every other: the same secret, or none and the same database
  for (const key of ['JWT_SECRET', 'DATABASE_URL'] as const) {
    const values = new Set(apps.map((a) => a.env[key] ?? ''));
    if (values.size > 1) problems.push(`the apps do not share one ${key}, so a token from one app would not verify in another`);
  }
  return problems;
}

function dependsOn(s: ComposeService): Record<string, string> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([k, v]) => [k, v?.condition ?? 'service_started']));
}

/** Each service an app's URLs name exists in the file, has a health check, and the app waits until it is healthy. */
export function composeDependencyProblems(compose: ComposeFile, apps: ComposeApp[]): string[] {
  const problems: string[] = [];
  for (const { name, service, env } of apps) {
    const wanted = [
      ['DATABASE_URL', env.DATABASE_URL, 5432],
      ['REDIS_URL', env.REDIS_URL, 6379],
      ['MQTT_URL', env.MQTT_URL, 1883],
      ...(env.KAFKA_BROKERS ?? '').split(',').filter(Boolean).map((b) => ['KAFKA_BROKERS', b, 9092] as const),
    ] as const;
    const deps = dependsOn(service);
    for (const [key, value, port] of wanted) {
      if (!value) continue;
      const host = hostPort(value, port)?.host ?? '';
      const target = compose.services[host];
      if (!target) problems.push(`service ${name}: ${key} names host "${host}", which is no service in the file`);
      else {
        if (!target.healthcheck?.test) problems.push(`service ${host} (${key} of ${name}) has no health check`);
        if (deps[host] !== 'service_healthy') problems.push(`service ${name}: does not wait for ${host} (${key}) with depends_on condition service_healthy`);
      }
    }
  }
  return problems;
}

const bindMounts = (s: ComposeService) => (s.volumes ?? []).map(String).map((v) => v.split(':')).filter(([src]) => src.startsWith('.') || src.startsWith('/'));

/** Files and folders mounted from the repository exist. */
export function composeMountProblems(compose: ComposeFile, root = REPO): string[] {
  return Object.entries(compose.services).flatMap(([name, s]) => bindMounts(s)
    .filter(([src]) => !existsSync(join(root, src)))
    .map(([src]) => `service ${name}: mounts ${src}, which does not exist`));
}

/**
 * Mosquitto runs the project's config (deploy/mosquitto/mosquitto.conf); its dynamic-security file is made by
 * init-dynsec.sh in the same volume before the broker starts; the apps' MQTT_URL reaches its listener with the
 * service account the init step creates.
 */
export function composeMosquittoProblems(compose: ComposeFile, apps: ComposeApp[], vars: RawEnv, root = REPO): string[] {
  const problems: string[] = [];
  const entries = Object.entries(compose.services);
  const broker = entries.find(([, s]) => bindMounts(s).some(([, dst]) => dst === '/mosquitto/config/mosquitto.conf'));
  if (!broker) return ['no service mounts a config at /mosquitto/config/mosquitto.conf'];
  const [brokerName, brokerService] = broker;
  if (buildContext(brokerService) !== MOSQUITTO_BUILD_CONTEXT) {
    problems.push(`service ${brokerName}: not built from ${MOSQUITTO_BUILD_CONTEXT} (the image with the project's plugin that mosquitto.conf loads)`);
  }
  const src = bindMounts(brokerService).find(([, dst]) => dst === '/mosquitto/config/mosquitto.conf')![0];
  if (src.replace(/^\.\//, '') !== 'deploy/mosquitto/mosquitto.conf') problems.push(`service ${brokerName}: mounts ${src} as its config, not deploy/mosquitto/mosquitto.conf`);
  const confPath = join(root, src);
  if (!existsSync(confPath)) problems.push(`${src} does not exist`);
  const conf = existsSync(confPath) ? readFileSync(confPath, 'utf8') : '';
  const listener = Number(/^\s*listener\s+(\d+)/m.exec(conf)?.[1] ?? 1883);
  const dynsecFile = /^\s*plugin_opt_config_file\s+(\S+)/m.exec(conf)?.[1];
  const published = (brokerService.ports ?? []).map((p) => Number(String(p).split(':').pop()));
  if (!published.includes(listener)) problems.push(`service ${brokerName}: the listener port ${listener} of mosquitto.conf is not published for devices`);
  const init = entries.find(([, s]) => bindMounts(s).some(([from]) => from.endsWith('init-dynsec.sh')));
  if (!init) problems.push('no service runs deploy/mosquitto/init-dynsec.sh');
  else {
    const [initName, initService] = init;
    if (dependsOn(brokerService)[initName] !== 'service_completed_successfully') problems.push(`service ${brokerName}: does not wait for ${initName} (condition service_completed_successfully)`);
    if (dynsecFile) {
      const dir = dynsecFile.slice(0, dynsecFile.lastIndexOf('/'));
      const volumeAt = (s: ComposeService) => (s.volumes ?? []).map(String).map((v) => v.split(':')).find(([, dst]) => dst === dir)?.[0];
      if (!volumeAt(brokerService) || volumeAt(brokerService) !== volumeAt(initService)) problems.push(`${initName} and ${brokerName} do not share the volume at ${dir}, where the dynamic-security file lives`);
    }
    const initEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(rawEnvironment(initService))) initEnv[k] = interpolate(v, vars, `service ${initName} ${k}`, problems);
    problems.push(...platformUserProblems(initEnv, `service ${initName}`));
    for (const a of apps.filter((x) => x.env.MQTT_URL)) {
      const u = new URL(a.env.MQTT_URL);
      if (u.hostname !== brokerName || Number(u.port || 1883) !== listener) problems.push(`service ${a.name}: MQTT_URL reaches ${u.hostname}:${u.port || 1883}, not ${brokerName}:${listener}`);
      if (decodeURIComponent(u.username) !== (initEnv.MQTT_SERVICE_USERNAME ?? 'linan') || decodeURIComponent(u.password) !== initEnv.MQTT_SERVICE_PASSWORD) {
        problems.push(`service ${a.name}: MQTT_URL's user and password are not the service account ${initName} creates`);
      }
    }
  }
  return problems;
}

/** No literal secret in the file: a secret comes from .env through ${VAR}, with no default or a marked example one. */
export function composeSecretProblems(compose: ComposeFile, exampleEnv: Record<string, string>, composeText: string): string[] {
  const problems: string[] = [];
  const literal = (v: string) => v.replace(/\$\{[^}]*\}/g, '');
  for (const [name, s] of Object.entries(compose.services)) {
    for (const [k, v] of Object.entries(rawEnvironment(s))) {
      if (isSecretName(k) && literal(v) !== '' && !isMarkedExample(v)) problems.push(`service ${name}: ${k} is written into the file`);
      const pw = urlPassword(literal(v));
      if (pw !== undefined && !isMarkedExample(pw)) problems.push(`service ${name}: ${k} has a password written into the file`);
    }
  }
  for (const m of composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-)([^}]*)\}/g)) {
    if (isSecretName(m[1]) && m[3] !== '' && !isMarkedExample(m[3])) problems.push(`\${${m[1]}} defaults to a real-looking secret`);
  }
  for (const m of composeText.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)) {
    if (!(m[1] in exampleEnv)) problems.push(`${m[1]} is required but not listed in deploy/compose.env.example`);
  }
  for (const [k, v] of Object.entries(exampleEnv)) if (isSecretName(k) && !isMarkedExample(v)) problems.push(`deploy/compose.env.example: ${k} is not marked as an example`);
  return problems;
}

/** Topics are created on first use: on, with as many partitions as the largest consumer group has members. */
export function composeKafkaProblems(compose: ComposeFile, apps: ComposeApp[]): string[] {
  const kafkaHost = hostPort((apps[0]?.env.KAFKA_BROKERS ?? '').split(',')[0], 9092)?.host ?? '';
  const kafka = compose.services[kafkaHost];
  if (!kafka) return [`no Kafka service "${kafkaHost}"`];
  const env = rawEnvironment(kafka);
  const problems: string[] = [];
  if (env.KAFKA_AUTO_CREATE_TOPICS_ENABLE !== 'true') problems.push('Kafka: KAFKA_AUTO_CREATE_TOPICS_ENABLE is not "true" (the apps create no topics)');
  // the apps tell a rebuilt Kafka by its cluster id; apache/kafka formats an empty volume with one fixed id unless told
  const command = Array.isArray(kafka.command) ? kafka.command.join(' ') : String(kafka.command ?? '');
  if (env.CLUSTER_ID !== undefined || !/kafka-storage\.sh random-uuid/.test(command) || !/exec \/etc\/kafka\/docker\/run$/.test(command)) {
    problems.push('Kafka: an empty volume must be formatted with a cluster id of its own (CLUSTER_ID from kafka-storage.sh random-uuid, then the image\'s /etc/kafka/docker/run)');
  }
  const partitions = Number(env.KAFKA_NUM_PARTITIONS ?? 1);
  for (const group of ['triage', 'dispatch'] as const) {
    const members = apps.filter((a) => a.app === group).reduce((n, a) => n + (a.service.deploy?.replicas ?? 1), 0);
    if (members > partitions) problems.push(`Kafka: ${members} ${group} replicas but ${partitions} partitions per topic: ${members - partitions} would idle`);
  }
  return problems;
}
