/**
 * The small reverse proxy of `npm run start:distributed`: one public port in front of the apps, routed by the
 * edge's route table (libs/runtime/src/routes.ts). HTTP requests are streamed both ways; a WebSocket upgrade on a
 * websocket route is passed through as raw bytes once the app has answered 101. Built on node:http (see
 * docs/decisions.md for why no proxy library).
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { EDGE_HEALTH_PATH, EDGE_ROUTES, routeFor, type EdgeRoute } from '@linan/runtime';

export interface Upstream {
  host: string;
  port: number;
}

export interface EdgeHealth {
  ok: boolean;
  body: unknown;
}

export interface EdgeProxyOptions {
  /** Where each app listens; a route whose app is missing answers 503. */
  upstreams: ReadonlyMap<string, Upstream>;
  routes?: readonly EdgeRoute[];
  /** Answers GET EDGE_HEALTH_PATH (the launcher reports every app's /health there). */
  health: () => Promise<EdgeHealth>;
  /** One line per proxy failure (an app that does not answer). */
  log: (line: string) => void;
}

export interface EdgeProxy {
  server: Server;
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, and ends open requests and WebSockets. */
  close(): Promise<void>;
}

/** Headers that belong to one connection and are not forwarded (RFC 9110 §7.6.1), besides those Connection names. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

function withoutHopByHop(headers: IncomingHttpHeaders, keepUpgrade: boolean): IncomingHttpHeaders {
  const named = String(headers.connection ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  const drop = new Set([...HOP_BY_HOP, ...named]);
  if (keepUpgrade) {
    drop.delete('connection');
    drop.delete('upgrade');
  }
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !drop.has(k.toLowerCase())));
}

/** The request's headers for the app: no hop-by-hop headers, plus X-Forwarded-For/-Host/-Proto. */
function forwardedHeaders(req: IncomingMessage, upgrade: boolean): IncomingHttpHeaders {
  const h = withoutHopByHop(req.headers, upgrade);
  const client = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  h['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
  h['x-forwarded-host'] ??= req.headers.host ?? '';
  h['x-forwarded-proto'] ??= 'http';
  return h;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Ends a socket that asked for an upgrade with a plain HTTP answer. */
function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/**
 * How long a connection to an app may sit idle in the proxy's pool, at most. The proxy must be the side that closes
 * an idle connection: when the app closes it first, a request sent on it at that moment meets a reset and its client
 * gets a 502 (seen in the bench: a POST after a few idle seconds). With this set, node:http also honours each app's
 * `Keep-Alive: timeout=N` and closes a second earlier than the app would (without it, it ignores the hint). The apps
 * keep idle connections for HTTP_KEEP_ALIVE_MS, longer than this.
 */
export const EDGE_IDLE_CONNECTION_MS = 30_000;

export function createEdgeProxy(options: EdgeProxyOptions): EdgeProxy {
  const routes = options.routes ?? EDGE_ROUTES;
  const agent = new Agent({ keepAlive: true, maxSockets: 256, timeout: EDGE_IDLE_CONNECTION_MS });
  const tunnels = new Set<Duplex>();

  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.split('?')[0] === EDGE_HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      options.health().then(
        (h) => sendJson(res, h.ok ? 200 : 503, h.body),
        (e: unknown) => sendJson(res, 503, { status: 'error', message: (e as Error).message }),
      );
      return;
    }
    const route = routeFor(url, routes);
    if (!route) return sendJson(res, 404, { code: 'EDGE.NOT_ROUTED', message: `no app serves ${url.split('?')[0]} at the edge` });
    const upstream = options.upstreams.get(route.app);
    if (!upstream) return sendJson(res, 503, { code: 'EDGE.APP_NOT_RUNNING', message: `${route.app} is not running` });
    const out = request({
      host: upstream.host, port: upstream.port, method: req.method, path: url, headers: forwardedHeaders(req, false), agent,
    }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, withoutHopByHop(upRes.headers, false));
      upRes.pipe(res);
      upRes.on('error', () => res.destroy());
    });
    out.on('error', (e) => {
      options.log(`${req.method} ${url} → ${route.app} (${upstream.host}:${upstream.port}) failed: ${e.message}`);
      if (!res.headersSent) sendJson(res, 502, { code: 'EDGE.BAD_GATEWAY', message: `${route.app} did not answer` });
      else res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) out.destroy();
    });
    req.pipe(out);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = req.url ?? '/';
    socket.on('error', () => socket.destroy());
    const route = routeFor(url, routes);
    if (!route?.websocket) return refuseUpgrade(socket, 404, 'Not Found');
    const upstream = options.upstreams.get(route.app);
    if (!upstream) return refuseUpgrade(socket, 503, 'Service Unavailable');
    const out = request({
      host: upstream.host, port: upstream.port, method: req.method, path: url, headers: forwardedHeaders(req, true), agent: false,
    });
    out.on('upgrade', (upRes: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
      const lines = [`HTTP/1.1 ${upRes.statusCode ?? 101} ${upRes.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < upRes.rawHeaders.length; i += 2) lines.push(`${upRes.rawHeaders[i]}: ${upRes.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      tunnels.add(socket);
      const end = () => {
        tunnels.delete(socket);
        socket.destroy();
        upSocket.destroy();
      };
      upSocket.on('error', end).on('close', end);
      socket.on('error', end).on('close', end);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    // the app answered without upgrading (401, 404...): pass its answer on and close
    out.on('response', (upRes: IncomingMessage) => {
      const lines = [`HTTP/1.1 ${upRes.statusCode ?? 502} ${upRes.statusMessage ?? ''}`, 'connection: close'];
      for (const [k, v] of Object.entries(withoutHopByHop(upRes.headers, false))) {
        for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
      }
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      upRes.pipe(socket); // the body as it came, ended by closing the connection
    });
    out.on('error', (e) => {
      options.log(`WebSocket ${url} → ${route.app} (${upstream.host}:${upstream.port}) failed: ${e.message}`);
      refuseUpgrade(socket, 502, 'Bad Gateway');
    });
    out.end();
  });

  return {
    server,
    listen: (port, host) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    }),
    close: () => new Promise((resolve) => {
      for (const s of tunnels) s.destroy();
      tunnels.clear();
      server.close(() => resolve());
      server.closeAllConnections();
      agent.destroy();
    }),
  };
}
