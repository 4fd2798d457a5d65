import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { readEnvironment } from '@linan/platform';
import { freePort } from './free-port';

/**
 * The project's broker configuration and its initialisation script, as shipped: four folders up from the sources,
 * five from their build in dist/ (the bench's distributed run uses the built helper).
 */
export const MOSQUITTO_DEPLOY_DIR = ['../../../../deploy/mosquitto', '../../../../../deploy/mosquitto']
  .map((p) => resolve(__dirname, p)).find((d) => existsSync(join(d, 'mosquitto.conf'))) ?? resolve(__dirname, '../../../../deploy/mosquitto');

/** Where the dynamic-security plugin lives: Debian's package, then the eclipse-mosquitto image, then a source build. */
export const DYNSEC_PLUGIN_CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
];

/** The headers the project's plugin includes (Debian: mosquitto-dev has the last two, libmosquitto-dev the first). */
export const MOSQUITTO_PLUGIN_HEADERS = ['mosquitto.h', 'mosquitto_broker.h', 'mosquitto_plugin.h'];

/**
 * The project's own plugin (deploy/mosquitto/plugin), built with its build.sh the first time a test needs it and kept
 * in the temporary folder under a hash of its sources, so a changed source is built again and test files running in
 * parallel share one build. Needs a C compiler and Mosquitto's headers (apt-get install -y gcc mosquitto-dev
 * libmosquitto-dev).
 */
export async function deviceAclPlugin(): Promise<string> {
  const dir = join(MOSQUITTO_DEPLOY_DIR, 'plugin');
  const hash = createHash('sha256');
  for (const f of ['linan_device_acl.c', 'build.sh']) hash.update(await readFile(join(dir, f)));
  const out = join(tmpdir(), 'linan-mosquitto-plugin', `linan_device_acl-${hash.digest('hex').slice(0, 16)}.so`);
  if (existsSync(out)) return out;
  await mkdir(dirname(out), { recursive: true });
  await run('sh', [join(dir, 'build.sh'), out], readEnvironment());
  return out;
}

export interface MosquittoAccount {
  username: string;
  password: string;
}

export interface RunningMosquitto {
  port: number;
  /** mqtt://127.0.0.1:<port>, no credentials: what a device connects to. */
  url: string;
  /** The URL with the platform's service account, as MQTT_URL carries it in distributed mode. */
  serviceUrl: string;
  service: MosquittoAccount;
  admin: MosquittoAccount;
  /** The instance's folder: mosquitto.conf, mosquitto.db, dynamic-security.json, mosquitto.log. */
  dir: string;
  /** Stops the broker (SIGTERM, so it writes its persistence file) and starts it again on the same port. */
  restart(): Promise<void>;
  /** Stops the broker and removes its folder. */
  stop(): Promise<void>;
  /** The last lines of the broker's log, for failure messages. */
  logTail(lines?: number): Promise<string>;
}

export interface MosquittoOptions {
  /** Extra configuration lines appended to the project's file (a test of one setting). */
  extraConfig?: string[];
  startTimeoutMs?: number;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((done) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      done(true);
    });
    c.once('error', () => done(false));
  });
}

/**
 * The test variant of deploy/mosquitto/mosquitto.conf: the same settings with the listener on a free port of
 * 127.0.0.1, persistence and the dynamic-security file in the instance's folder, the plugin where this machine
 * has it, the log in a file, and no switch to the mosquitto user. Every rewritten line must exist, so a change to
 * the shipped file that the tests would silently stop covering fails here.
 */
export function testVariantOfConfig(
  shipped: string, o: { port: number; dir: string; plugin: string; deviceAclPlugin: string; extra?: string[] },
): string {
  const rules: [RegExp, string][] = [
    [/^listener 1883$/m, `listener ${o.port} 127.0.0.1`],
    [/^persistence_location .*$/m, `persistence_location ${o.dir}/`],
    [/^plugin \S*\/linan_device_acl\.so$/m, `plugin ${o.deviceAclPlugin}`],
    [/^plugin \S*\/mosquitto_dynamic_security\.so$/m, `plugin ${o.plugin}`],
    [/^plugin_opt_config_file .*$/m, `plugin_opt_config_file ${join(o.dir, 'dynamic-security.json')}`],
    [/^log_dest stdout$/m, `log_dest file ${join(o.dir, 'mosquitto.log')}`],
  ];
  let conf = shipped;
  for (const [re, line] of rules) {
    if (!re.test(conf)) throw new Error(`deploy/mosquitto/mosquitto.conf has no line matching ${re}; update the test variant`);
    conf = conf.replace(re, line);
  }
  return `${conf}\n# test variant\nuser ${userInfo().username}\n${(o.extra ?? []).join('\n')}\n`;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((done, fail) => {
    execFile(file, args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${file} failed: ${err.message}\n${stdout}${stderr}`));
      else done(stdout);
    });
  });
}

/**
 * The project's own Mosquitto for integration tests: deploy/mosquitto/mosquitto.conf on a free port with a
 * temporary folder, its dynamic-security file made by deploy/mosquitto/init-dynsec.sh (so the script is tested
 * too), an admin and the platform's service account with fresh passwords. Each call starts its own broker.
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  const plugin = DYNSEC_PLUGIN_CANDIDATES.find((p) => existsSync(p));
  if (!plugin) throw new Error('mosquitto_dynamic_security.so not found (apt-get install -y mosquitto mosquitto-clients)');
  const deviceAcl = await deviceAclPlugin();
  const dir = await mkdtemp(join(tmpdir(), 'linan-mosquitto-'));
  const admin = { username: 'admin', password: randomBytes(12).toString('base64url') };
  const service = { username: 'linan', password: randomBytes(12).toString('base64url') };
  await run('sh', [join(MOSQUITTO_DEPLOY_DIR, 'init-dynsec.sh')], {
    ...readEnvironment(), DYNSEC_FILE: join(dir, 'dynamic-security.json'), MOSQUITTO_DYNSEC_PLUGIN: plugin,
    MQTT_ADMIN_USERNAME: admin.username, MQTT_ADMIN_PASSWORD: admin.password,
    MQTT_SERVICE_USERNAME: service.username, MQTT_SERVICE_PASSWORD: service.password,
  });
  const shipped = await readFile(join(MOSQUITTO_DEPLOY_DIR, 'mosquitto.conf'), 'utf8');
  const confPath = join(dir, 'mosquitto.conf');
  const logPath = join(dir, 'mosquitto.log');
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess | null = null;
  let port = 0;

  const logTail = async (lines = 30) => (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');

  const launch = async (): Promise<void> => {
    const proc = spawn('mosquitto', ['-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let exited = false;
    let spawnError: Error | null = null;
    proc.once('exit', () => (exited = true));
    proc.once('error', (e) => (spawnError = e));
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (spawnError) throw new Error(`cannot run mosquitto (apt-get install -y mosquitto): ${(spawnError as Error).message}`);
      if (exited) throw new Error(`mosquitto exited at start:\n${stderr}\n${await logTail()}`);
      if (await accepts(port)) break;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`mosquitto did not listen on ${port} within ${startTimeoutMs} ms:\n${stderr}\n${await logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    child = proc;
  };

  const halt = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((done) => {
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      proc.once('exit', () => {
        clearTimeout(killer);
        done();
      });
      proc.kill('SIGTERM');
    });
  };

  // a free port can be taken between the probe and mosquitto's bind: try another
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    await writeFile(confPath, testVariantOfConfig(shipped, { port, dir, plugin, deviceAclPlugin: deviceAcl, extra: options.extraConfig }));
    try {
      await launch();
      break;
    } catch (e) {
      if (attempt >= 3) {
        await rm(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    serviceUrl: `mqtt://${encodeURIComponent(service.username)}:${encodeURIComponent(service.password)}@127.0.0.1:${port}`,
    service, admin, dir, logTail,
    restart: async () => {
      await halt();
      await launch();
    },
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type DeviceConnectResult =
  | { ok: true; client: MqttClient }
  /** The CONNACK's refusal: MQTT 3.1.1 return code (5 = not authorized) or MQTT 5 reason code (0x87, 0x86, 0x85...). */
  | { ok: false; code: number | undefined; message: string };

/** Connects once as a device would (no reconnect) and reports whether the broker accepted it. */
export function tryDeviceConnect(url: string, o: { clientId: string; username?: string; password?: string; protocolVersion?: 4 | 5 }): Promise<DeviceConnectResult> {
  return new Promise((done) => {
    const client = mqtt.connect(url, {
      clientId: o.clientId, username: o.username, password: o.password, protocolVersion: o.protocolVersion ?? 5,
      reconnectPeriod: 0, connectTimeout: 5_000,
    });
    client.once('connect', () => done({ ok: true, client }));
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      done({ ok: false, code: err.code, message: err.message });
    });
  });
}
