import type { Server } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { RootLogger } from '../logging/root-logger';
import { Database } from '../persistence/database';
import { DomainErrorFilter } from './domain-error.filter';
import { REQUEST_BODY_LIMIT_KB, unreadableBodyAsHttpError } from './request-body';
import { createValidationPipe } from './validation';

/**
 * How long an app keeps an idle keep-alive connection open. Longer than whatever sits in front of it keeps one idle
 * (the edge proxy's EDGE_IDLE_CONNECTION_MS, 30 s; nginx's and most cloud load balancers' 60 s), so the proxy side
 * always closes first: when the app closes a connection just as the proxy sends a request on it, the request meets a
 * reset and the client gets a 502. Node's default is 5 s.
 */
export const HTTP_KEEP_ALIVE_MS = 65_000;

export interface HttpAppOptions {
  title: string;
  staticDir?: string;
  websockets?: boolean;
  /** Proxy hops whose X-Forwarded-For is believed (0: the peer address is the client). */
  trustProxyHops?: number;
  /** The OpenAPI document served at /api/docs instead of the one made from this app's own controllers. */
  document?: OpenAPIObject;
}

/** What every OpenAPI document of the API says about itself. */
export function apiDocumentConfig(title: string): Omit<OpenAPIObject, 'paths'> {
  return new DocumentBuilder()
    .setTitle(title)
    .setDescription('邻安 Lin\'an HTTP API v1')
    .setVersion('1')
    .addBearerAuth()
    .build();
}

/** One way to build every HTTP app: pino logs, validation, error mapping, OpenAPI at /api/docs. */
export async function createHttpApp(module: unknown, options: HttpAppOptions): Promise<INestApplication> {
  // A provider that fails while the module is built (a service that cannot be reached, a bad setting) rejects here,
  // so the caller can say why in one line and exit: by default Nest would print the error with its stack through its
  // own console logger and call process.exit(1) itself. Nest's logs stay buffered until the pino logger takes them
  // (below); if creation fails they are dropped, as the caller reports the error.
  const app = await NestFactory.create<NestExpressApplication>(module as never, { bufferLogs: true, abortOnError: false, logger: false, bodyParser: false });
  app.useLogger(app.get(PinoNestLogger));
  // Nest's own parsers, registered here so that the handler after them turns a body it cannot read into a coded 4xx
  app.useBodyParser('json', { limit: `${REQUEST_BODY_LIMIT_KB}kb` });
  app.useBodyParser('urlencoded', { extended: true, limit: `${REQUEST_BODY_LIMIT_KB}kb` });
  app.use(unreadableBodyAsHttpError);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new DomainErrorFilter(app.get(RootLogger), databaseAnswersOf(app)));
  app.disable('x-powered-by');
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_MS;
  // how long a request's headers may take: kept above the keep-alive time, the usual advice for Node behind a proxy
  server.headersTimeout = HTTP_KEEP_ALIVE_MS + 1_000;
  // the audit trail and the login limit key on the client address; behind the edge that is in X-Forwarded-For
  if (options.trustProxyHops) app.set('trust proxy', options.trustProxyHops);
  if (options.websockets) app.useWebSocketAdapter(new WsAdapter(app));
  if (options.staticDir) app.useStaticAssets(options.staticDir, { index: 'index.html', maxAge: 0 });
  const document = options.document;
  SwaggerModule.setup('api/docs', app, document ? () => document : () => SwaggerModule.createDocument(app, apiDocumentConfig(options.title)),
    { jsonDocumentUrl: 'api/docs/openapi.json' });
  app.enableShutdownHooks();
  return app;
}

/** The app's database check for the error filter, or undefined in an app without a database. */
function databaseAnswersOf(app: INestApplication): (() => Promise<boolean>) | undefined {
  try {
    const db = app.get(Database, { strict: false });
    return () => db.answers();
  } catch {
    return undefined;
  }
}
