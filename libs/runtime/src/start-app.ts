import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamicModule, Module, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { LoggerModule } from 'nestjs-pino';
import {
  apiDocumentConfig, createHttpApp, createLogger, displayHost, Endpoints, loadConfig, PlatformModule, readEnvironment, StartupError,
  type AppConfig, type Clock, type Metrics, type RawEnv, type RootLogger,
} from '@linan/platform';
import { AuthModule, EnsureAdminUseCase, type AdminBootstrap } from '@linan/auth';
import { ALL_ENTITIES } from './entities';

export interface AppSpec {
  /** Shown in the banner and the logs: gateway, triage, dispatch, provisioning, console, embedded. */
  name: string;
  /** The app's own modules, chosen from the validated configuration. */
  modules: (config: AppConfig) => Type<unknown>[];
  staticDir?: string;
  websockets?: boolean;
  /**
   * A file holding the OpenAPI document to serve at /api/docs instead of the one made from this app's own
   * controllers (when the file exists): the console, which the edge sends /api/docs to, serves the whole API's.
   */
  apiDocument?: string;
}

/**
 * Where the build writes the whole API's OpenAPI document (`npm run build` runs dist/scripts/openapi.js): dist/openapi.json,
 * beside dist/libs, when this module runs from dist.
 */
export const BUILT_API_DOCUMENT = join(__dirname, '..', '..', '..', 'openapi.json');

/** The title of the whole API's document, and of each app's own. */
const apiTitle = (name?: string) => `邻安 Lin'an${name ? ` — ${name}` : ''}`;

export interface StartOptions {
  logger?: RootLogger;
  clock?: Clock;
  metrics?: Metrics;
}

export interface RunningApp {
  app: INestApplication;
  config: AppConfig;
  httpUrl: string;
  httpPort: number;
  endpoints: readonly { label: string; url: string }[];
  admin: AdminBootstrap;
  close(): Promise<void>;
}

@Module({})
class RootModule {
  static register(spec: AppSpec, config: AppConfig, logger: RootLogger, options: StartOptions): DynamicModule {
    return {
      module: RootModule,
      imports: [
        PlatformModule.forRoot({ config, logger, entities: ALL_ENTITIES, clock: options.clock, metrics: options.metrics, appName: spec.name }),
        // the framework's own start-up chatter stays out of the way; its warnings and errors still reach the log
        LoggerModule.forRoot({ pinoHttp: { logger: logger.child({ component: 'nest', app: spec.name }, { level: 'warn' }), autoLogging: false, quietReqLogger: true } }),
        AuthModule,
        ...spec.modules(config),
      ],
    };
  }
}

/** Starts one app (or, for embedded mode, several) in this process, with HTTP for its API, health and metrics. */
export async function startApp(spec: AppSpec, env: RawEnv, options: StartOptions = {}): Promise<RunningApp> {
  const config = loadConfig(env);
  const logger = options.logger ?? (createLogger(config.log.level, config.log.pretty).child({ app: spec.name }) as RootLogger);
  const document = spec.apiDocument && existsSync(spec.apiDocument) ? JSON.parse(readFileSync(spec.apiDocument, 'utf8')) as OpenAPIObject : undefined;
  const app = await createHttpApp(RootModule.register(spec, config, logger, options), {
    title: apiTitle(spec.name), staticDir: spec.staticDir, websockets: spec.websockets, trustProxyHops: config.http.trustProxyHops, document,
  });
  try {
    const admin = await app.get(EnsureAdminUseCase).execute({ username: config.admin.username, password: config.admin.password });
    await app.listen(config.http.port, config.http.host).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'EADDRINUSE'
        ? new StartupError(`HTTP port ${config.http.port} on ${config.http.host} is already in use. Set PORT to a free port, e.g. PORT=3100.`)
        : e;
    });
    const address = app.getHttpServer().address();
    const httpPort = typeof address === 'object' && address ? address.port : config.http.port;
    return {
      app, config, admin, httpPort, httpUrl: `http://${displayHost(config.http.host)}:${httpPort}`, endpoints: app.get(Endpoints).all(),
      close: () => app.close(),
    };
  } catch (e) {
    await app.close().catch(() => undefined);
    throw e;
  }
}

/**
 * The OpenAPI document of everything `spec` serves over HTTP, made without starting it: Nest's preview mode builds
 * the module graph and reads the controllers' metadata, but creates no provider, so nothing connects to anything.
 * The application is not closed: none of its shutdown hooks has an instance to run on, and it holds nothing open.
 */
export async function describeApi(spec: AppSpec, env: RawEnv = {}): Promise<OpenAPIObject> {
  const config = loadConfig({ DATA_DIR: 'memory://', ...env });
  const logger = createLogger('silent', false) as RootLogger;
  const app = await NestFactory.create(RootModule.register(spec, config, logger, {}), { preview: true, logger: false, abortOnError: false });
  return SwaggerModule.createDocument(app, apiDocumentConfig(apiTitle()));
}

/** The banner an operator sees at start: where everything is and how to sign in. */
export function banner(spec: AppSpec, p: RunningApp): string {
  const database = p.config.database.url ? 'PostgreSQL (DATABASE_URL)' : p.config.dataDir === 'memory://' ? 'embedded, in memory' : `embedded, in ${p.config.dataDir}`;
  const lines = [
    '',
    spec.name === 'embedded'
      ? `  邻安 Lin'an is running — embedded mode, one process with: ${p.config.apps.join(', ')}`
      : `  邻安 Lin'an ${spec.name} is running`,
    '',
    ...(spec.staticDir ? [`  Console       ${p.httpUrl}/`] : []),
    `  API docs      ${p.httpUrl}/api/docs`,
    `  Health        ${p.httpUrl}/health      Metrics ${p.httpUrl}/metrics`,
    ...p.endpoints.map((e) => `  ${e.label.padEnd(13)} ${e.url}`),
    `  Database      ${database}`,
    `  Admin user    ${p.admin.username}`,
    p.admin.generatedPassword
      ? `  Admin password ${p.admin.generatedPassword}   (generated now and shown only once; set ADMIN_PASSWORD to choose one)`
      : p.admin.created ? '  Admin password from ADMIN_PASSWORD' : '  Admin password unchanged (set at first start)',
    '',
  ];
  return lines.join('\n') + '\n';
}

/** The whole of an app's main.ts: start, print the banner, or explain why it cannot start and exit non-zero. */
export function runMain(spec: AppSpec): void {
  const env = readEnvironment();
  // a single app's process runs that app; only the embedded entry point composes several (APPS)
  if (spec.name !== 'embedded' && !env.APPS) env.APPS = spec.name;
  startApp(spec, env).then(
    (p) => process.stdout.write(banner(spec, p)),
    (err: unknown) => {
      process.stderr.write(err instanceof StartupError ? `\n${err.message}\n\n` : `\nfailed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
