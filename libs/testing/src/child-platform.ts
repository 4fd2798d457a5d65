import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './services/free-port';
import { join } from 'node:path';
import { readEnvironment } from '@linan/platform';
import { eventually } from './test-platform';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
export const BUILT_MAIN = join(REPO_ROOT, 'dist', 'apps', 'embedded', 'src', 'main.js');

export { freePort };

export interface ChildPlatform {
  proc: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the built platform (`npm run build`), or one app of it, as its own process, as an operator would. */
export async function spawnPlatform(env: Record<string, string>, main = BUILT_MAIN): Promise<ChildPlatform> {
  const httpPort = Number(env.PORT ?? (await freePort()));
  const mqttPort = Number(env.MQTT_PORT ?? (await freePort()));
  let out = '';
  const proc = spawn(process.execPath, [main], {
    env: { PATH: readEnvironment().PATH ?? '', HTTP_HOST: '127.0.0.1', MQTT_HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, PORT: String(httpPort), MQTT_PORT: String(mqttPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  await eventually(async () => {
    if (proc.exitCode !== null) throw new Error(`platform exited: ${out}`);
    const r = await fetch(`${httpUrl}/health`).catch(() => null);
    return r?.ok === true;
  }, 60_000, 'the platform to be healthy');
  return {
    proc, httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, output: () => out,
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}
