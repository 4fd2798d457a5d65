import type { INestApplication } from '@nestjs/common';
import { createHttpApp, createLogger, loadConfig, Metrics, type AppConfig, type Clock, type RawEnv, type RootLogger } from '@linan/platform';
import { EnsureAdminUseCase, type AdminBootstrap } from '@linan/auth';
import { BrokerHost } from '../../gateway/src/broker-host.service';
import { CONSOLE_PUBLIC_DIR } from '../../console/src/console.module';
import { EmbeddedAppModule } from './embedded-app.module';

export interface RunningPlatform {
  app: INestApplication;
  config: AppConfig;
  httpUrl: string;
  mqttUrl: string;
  mqttPort: number;
  httpPort: number;
  admin: AdminBootstrap;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: RootLogger;
  clock?: Clock;
  metrics?: Metrics;
}

/** Starts the whole platform in this process on the configuration from `env`. */
export async function startEmbedded(env: RawEnv, options: StartOptions = {}): Promise<RunningPlatform> {
  const config = loadConfig(env);
  const logger = options.logger ?? (createLogger(config.log.level, config.log.pretty) as RootLogger);
  const app = await createHttpApp(
    EmbeddedAppModule.register({ config, logger, clock: options.clock, metrics: options.metrics }),
    { title: '邻安 Lin\'an', staticDir: CONSOLE_PUBLIC_DIR, websockets: true },
  );
  try {
    const admin = await app.get(EnsureAdminUseCase).execute({ username: config.admin.username, password: config.admin.password });
    await app.listen(config.http.port, config.http.host);
    const address = app.getHttpServer().address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    const mqttPort = config.apps.includes('gateway') ? app.get(BrokerHost).port : 0;
    const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
    return {
      app, config, admin, httpPort, mqttPort,
      httpUrl: `http://${host}:${httpPort}`,
      mqttUrl: `mqtt://${config.mqtt.host === '0.0.0.0' ? '127.0.0.1' : config.mqtt.host}:${mqttPort}`,
      close: () => app.close(),
    };
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
}
