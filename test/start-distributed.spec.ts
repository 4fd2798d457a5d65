/**
 * `npm run start:distributed` without the services: its environment check, and its reverse proxy against fake apps
 * (HTTP both ways, the WebSocket upgrade, the route table, failures).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { APP_NAMES } from '@linan/platform';
import { freePort } from '@linan/testing';
import { appEnvironment, checkDistributedEnvironment, takenAppPorts } from '../scripts/lib/distributed-env';
import { createEdgeProxy, type EdgeProxy, type Upstream } from '../scripts/lib/edge-proxy';
import { MAX_RESTARTS, RESTART_WINDOW_MS, RestartPolicy } from '../scripts/lib/restart-policy';

const SERVICES = {
  DATABASE_URL: 'postgres://linan:pw@127.0.0.1:5432/linan',
  KAFKA_BROKERS: '127.0.0.1:9092',
  REDIS_URL: 'redis://127.0.0.1:6379',
  MQTT_URL: 'mqtt://linan:pw@127.0.0.1:1883',
};

describe('start:distributed environment check', () => {
  it('names all four services when none is set, and points to npm start', () => {
    const r = checkDistributedEnvironment({ PATH: '/usr/bin' });
    expect(r.ok).toBe(false);
    const message = r.ok ? '' : r.message;
    expect(message).toMatch(/DATABASE_URL, KAFKA_BROKERS, REDIS_URL, MQTT_URL are not set/);
    expect(message).toMatch(/npm start/);
  });

  it('names what is missing from a partial set, and a bad value', () => {
    const partial = checkDistributedEnvironment({ KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'http://x' });
    const message = partial.ok ? '' : partial.message;
    expect(message).toMatch(/REDIS_URL: must start with redis:\/\//);
    const missing = checkDistributedEnvironment({ KAFKA_BROKERS: '127.0.0.1:9092' });
    expect(missing.ok ? '' : missing.message).toMatch(/DATABASE_URL: required in distributed mode[\s\S]*REDIS_URL: required[\s\S]*MQTT_URL: required/);
  });

  it('accepts the four services, and gives each app its own port on 127.0.0.1 and itself as APPS', () => {
    const r = checkDistributedEnvironment(SERVICES);
    expect(r.ok && r.config.mode).toBe('distributed');
    const env = appEnvironment({ ...SERVICES, PORT: '3000', APPS: 'gateway,console', UNSET: undefined }, 'triage', 3002);
    expect(env).toMatchObject({ ...SERVICES, APPS: 'triage', PORT: '3002', HTTP_HOST: '127.0.0.1' });
    expect('UNSET' in env).toBe(false);
  });

  it('names an app port that is already taken (an app a killed launcher left running) and how to find it', async () => {
    const ports = await Promise.all(APP_NAMES.map(() => freePort()));
    expect(await takenAppPorts(ports)).toBeNull();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(ports[2], '127.0.0.1', r));
    try {
      const message = await takenAppPorts(ports);
      expect(message).toContain(`${ports[2]} (${APP_NAMES[2]}) is already in use`);
      expect(message).toMatch(/earlier start:distributed[\s\S]*pgrep -af[\s\S]*Or set PORT/);
      expect(message).not.toContain(String(ports[1]));
    } finally {
      holder.close();
    }
  });
});

interface FakeApp {
  name: string;
  server: Server;
  upstream: Upstream;
  seen: { method: string; url: string; headers: IncomingMessage['headers']; body: string }[];
}

async function fakeApp(name: string, withWebSocket = false): Promise<FakeApp> {
  const seen: FakeApp['seen'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += String(d)));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      res.writeHead(201, { 'content-type': 'application/json', connection: 'keep-alive', 'x-app': name });
      res.end(JSON.stringify({ app: name, url: req.url, body }));
    });
  });
  if (withWebSocket) {
    const wss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/ws') return socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      wss.handleUpgrade(req, socket, head, (ws) => ws.on('message', (m) => ws.send(`${name} echo ${String(m)}`)));
    });
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { name, server, seen, upstream: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } };
}

describe('start:distributed restarts', () => {
  it('starts an app that exited again after 1, 2, 4 … s, and gives up on its sixth exit within 10 minutes', () => {
    const p = new RestartPolicy();
    const delays = Array.from({ length: MAX_RESTARTS }, (_, i) => p.next('triage', i * 1_000));
    expect(delays.map((d) => d.restart && d.delayMs)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(p.next('triage', 6_000)).toEqual({ restart: false, count: MAX_RESTARTS + 1 });
    // another app has its own count
    expect(p.next('console', 6_000)).toEqual({ restart: true, delayMs: 1_000, count: 1 });
  });

  it('forgets exits older than the window: an app that crashes now and then is always started again', () => {
    const p = new RestartPolicy();
    for (let i = 0; i < 20; i++) expect(p.next('dispatch', i * (RESTART_WINDOW_MS / 4)).restart).toBe(true);
    expect(p.next('dispatch', 20 * (RESTART_WINDOW_MS / 4) + 1)).toMatchObject({ restart: true, count: 4 });
  });
});

describe('start:distributed edge proxy', () => {
  let console_: FakeApp;
  let provisioning: FakeApp;
  let proxy: EdgeProxy;
  let base: string;
  let healthy = true;
  const logged: string[] = [];

  beforeAll(async () => {
    console_ = await fakeApp('console', true);
    provisioning = await fakeApp('provisioning');
    const upstreams = new Map<string, Upstream>([
      ['console', console_.upstream],
      ['provisioning', provisioning.upstream],
      // an app that is configured but does not listen: the proxy answers 502
      ['gateway', { host: '127.0.0.1', port: 1 }],
    ]);
    proxy = createEdgeProxy({
      upstreams,
      health: async () => ({ ok: healthy, body: { status: healthy ? 'ok' : 'error' } }),
      log: (l) => logged.push(l),
    });
    base = `http://127.0.0.1:${await proxy.listen(0, '127.0.0.1')}`;
  });

  afterAll(async () => {
    await proxy.close();
    await Promise.all([console_, provisioning].map((a) => new Promise((r) => a.server.close(r))));
  });

  it('sends each path to the app of the route table, with method, query, body and status intact', async () => {
    const r = await fetch(`${base}/api/v1/households?q=1`, { method: 'POST', body: '{"name":"张三"}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(201);
    expect(await r.json()).toEqual({ app: 'provisioning', url: '/api/v1/households?q=1', body: '{"name":"张三"}' });
    const appOf = async (path: string, init?: RequestInit) => ((await (await fetch(`${base}${path}`, init)).json()) as { app: string }).app;
    expect(await appOf('/api/v1/alerts/7/resolve', { method: 'POST', body: '{}' })).toBe('console');
    expect(await appOf('/')).toBe('console');
    expect(await appOf('/api/v1/auth/login', { method: 'POST', body: '{}' })).toBe('console');
  });

  it('adds X-Forwarded-For and passes no hop-by-hop headers', async () => {
    // node:http, as fetch refuses to send hop-by-hop headers at all
    const headers = { 'x-forwarded-for': '10.0.0.9', 'keep-alive': 'timeout=5', connection: 'keep-alive, x-hop', 'x-hop': '1', authorization: 'Bearer t' };
    const res = await new Promise<IncomingMessage>((resolve, reject) => request(`${base}/api/v1/devices`, { headers }, resolve).on('error', reject).end());
    res.resume();
    expect(res.headers['x-app']).toBe('provisioning');
    const seen = provisioning.seen[provisioning.seen.length - 1];
    expect(seen.headers['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1');
    expect(seen.headers.authorization).toBe('Bearer t');
    expect(seen.headers['x-hop']).toBeUndefined();
  });

  it('forwards nothing outside the table: an app’s /metrics, other paths, look-alike prefixes', async () => {
    for (const path of ['/metrics', '/api/v1/alertsx', '/api/v2/alerts', '/secret.txt']) {
      const r = await fetch(`${base}${path}`);
      expect([path, r.status, ((await r.json()) as { code: string }).code]).toEqual([path, 404, 'EDGE.NOT_ROUTED']);
    }
  });

  it('answers /health itself: 200 while every app is healthy, 503 otherwise', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    healthy = false;
    expect((await fetch(`${base}/health`)).status).toBe(503);
    healthy = true;
  });

  it('answers 502 when the app does not answer, 503 when it is not running', async () => {
    const routes = [{ path: '/api/v1/gw', match: 'prefix' as const, app: 'gateway' as const, what: 'test' }, { path: '/api/v1/tr', match: 'prefix' as const, app: 'triage' as const, what: 'test' }];
    const p = createEdgeProxy({ upstreams: new Map([['gateway', { host: '127.0.0.1', port: 1 }]]), routes, health: async () => ({ ok: true, body: {} }), log: (l) => logged.push(l) });
    const b = `http://127.0.0.1:${await p.listen(0, '127.0.0.1')}`;
    try {
      expect((await fetch(`${b}/api/v1/gw`)).status).toBe(502);
      expect(logged.join('\n')).toMatch(/GET \/api\/v1\/gw → gateway .* failed/);
      expect((await fetch(`${b}/api/v1/tr`)).status).toBe(503);
    } finally {
      await p.close();
    }
  });

  it('passes the WebSocket upgrade on /ws through to the console, both ways', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws`);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const reply = new Promise<string>((r) => ws.once('message', (m) => r(String(m))));
    ws.send('ping 1');
    expect(await reply).toBe('console echo ping 1');
    ws.close();
  });

  it('refuses an upgrade on a path that is not a WebSocket route', async () => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/alerts`);
    const status = await new Promise<number>((r) => ws.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)).once('error', () => r(-1)));
    expect(status).toBe(404);
  });

  it('ends open WebSockets when it closes', async () => {
    const p = createEdgeProxy({ upstreams: new Map([['console', console_.upstream]]), health: async () => ({ ok: true, body: {} }), log: () => undefined });
    const b = `ws://127.0.0.1:${await p.listen(0, '127.0.0.1')}`;
    const ws = new WebSocket(`${b}/ws`);
    await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
    const closed = new Promise<void>((r) => ws.once('close', () => r()));
    await p.close();
    await closed;
  });

  it('closes an idle connection to an app before the app does: a request after a pause gets its answer, not a 502', async () => {
    // An app that says it keeps idle connections for 2 s and, as a busy server whose close crosses a new request
    // would, resets a connection that brings a request after 2 s idle. The proxy must have moved to a new connection.
    const IDLE_S = 2;
    const lastAnswer = new WeakMap<object, number>();
    let connections = 0;
    const app = createServer((req, res) => {
      const last = lastAnswer.get(req.socket);
      if (last !== undefined && Date.now() - last >= IDLE_S * 1000) return void req.socket.destroy();
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': `timeout=${IDLE_S}` });
        res.end('{"ok":true}', () => lastAnswer.set(req.socket, Date.now()));
      });
    });
    app.keepAliveTimeout = 0; // never closes by itself: the reset above stands for its close
    app.on('connection', () => connections++);
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const p = createEdgeProxy({
      upstreams: new Map([['console', { host: '127.0.0.1', port: (app.address() as AddressInfo).port }]]),
      health: async () => ({ ok: true, body: {} }), log: (l) => logged.push(l),
    });
    const b = `http://127.0.0.1:${await p.listen(0, '127.0.0.1')}`;
    try {
      const resolve = () => fetch(`${b}/api/v1/alerts/1/resolve`, { method: 'POST', body: '{"outcome":"test"}' });
      expect((await resolve()).status).toBe(200);
      await new Promise((r) => setTimeout(r, IDLE_S * 1000 + 300));
      expect((await resolve()).status).toBe(200);
      expect(connections).toBe(2);
    } finally {
      await p.close();
      await new Promise((r) => app.close(r));
    }
  });
});
