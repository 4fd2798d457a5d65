import { displayHost, type RawEnv } from '@linan/platform';
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
  return { ...p, mqttPort, mqttUrl: `mqtt://${displayHost(p.config.mqtt.host)}:${mqttPort}` };
}
