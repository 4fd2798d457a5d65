import type { RawEnv } from '@linan/platform';
import { startApp, type RunningApp, type StartOptions } from '@linan/runtime';
import { BrokerHost } from '../../gateway/src/broker-host.service';
import { EMBEDDED_SPEC } from './embedded-app.module';

export type { StartOptions };

export interface RunningPlatform extends RunningApp {
  mqttUrl: string;
  mqttPort: number;
}

/** Starts the platform in this process (used by main.ts, the test harness and the scripts). */
export async function startEmbedded(env: RawEnv, options: StartOptions = {}): Promise<RunningPlatform> {
  const p = await startApp(EMBEDDED_SPEC, env, options);
  const mqttPort = p.config.apps.includes('gateway') ? p.app.get(BrokerHost).port : 0;
  const host = p.config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : p.config.mqtt.host;
  return { ...p, mqttPort, mqttUrl: `mqtt://${host}:${mqttPort}` };
}
