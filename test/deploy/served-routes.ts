import 'reflect-metadata';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants';
import { GATEWAY_OPTIONS } from '@nestjs/websockets/constants';
import pino from 'pino';
import { AuthModule } from '@linan/auth';
import { APP_NAMES, loadConfig, PlatformModule, type AppName, type RootLogger } from '@linan/platform';
import { CONSOLE_PAGE_FILES, EDGE_HEALTH_PATH, routeFor, routeMatches, type EdgeRoute } from '@linan/runtime';
import { ConsoleModule } from '../../apps/console/src/console.module';
import { DispatchAppModule } from '../../apps/dispatch/src/dispatch-app.module';
import { GatewayModule } from '../../apps/gateway/src/gateway.module';
import { ProvisioningModule } from '../../apps/provisioning/src/provisioning.module';
import { TriageModule } from '../../apps/triage/src/triage.module';

export const REPO = join(__dirname, '..', '..');
export const CONSOLE_PUBLIC = join(REPO, 'apps', 'console', 'public');

/** What one app process serves: HTTP path patterns (`/api/v1/alerts/:id`) and WebSocket paths. */
export interface Served {
  http: string[];
  ws: string[];
}

/** The app modules as each main.ts passes them to runMain. */
const APP_MODULES: Record<AppName, Type<unknown>> = {
  gateway: GatewayModule, triage: TriageModule, dispatch: DispatchAppModule, provisioning: ProvisioningModule, console: ConsoleModule,
};

type ModuleLike = Type<unknown> | { module: Type<unknown>; controllers?: Type<unknown>[]; imports?: ModuleLike[]; providers?: unknown[] };

const paths = (target: object): string[] => {
  const p: unknown = Reflect.getMetadata(PATH_METADATA, target);
  return p === undefined ? [] : Array.isArray(p) ? p.map(String) : [String(p)];
};
const join2 = (...parts: string[]) => `/${parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;

/** Walks a module and its imports through Nest's metadata: its controllers' routes and its WebSocket gateways. */
function collect(mod: ModuleLike, out: Served, seen = new Set<unknown>()): void {
  const cls = typeof mod === 'function' ? mod : mod.module;
  if (seen.has(mod)) return;
  seen.add(mod);
  const dyn: Exclude<ModuleLike, Type<unknown>> = typeof mod === 'function' ? { module: mod } : mod;
  const controllers: Type<unknown>[] = [...(Reflect.getMetadata('controllers', cls) ?? []), ...(dyn.controllers ?? [])];
  const providers: unknown[] = [...(Reflect.getMetadata('providers', cls) ?? []), ...(dyn.providers ?? [])];
  const imports: ModuleLike[] = [...(Reflect.getMetadata('imports', cls) ?? []), ...(dyn.imports ?? [])];
  for (const c of controllers) {
    const proto = c.prototype as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const handler = proto[name];
      if (name === 'constructor' || typeof handler !== 'function') continue;
      for (const base of paths(c)) for (const sub of paths(handler)) out.http.push(join2(base, sub));
    }
  }
  for (const p of providers) {
    const options = typeof p === 'function' ? (Reflect.getMetadata(GATEWAY_OPTIONS, p) as { path?: string } | undefined) : undefined;
    if (options?.path) out.ws.push(options.path);
  }
  for (const i of imports) if (i && (typeof i === 'function' || typeof i === 'object')) collect(i, out, seen);
}

/** Every app's routes: its own modules plus what runtime adds to each (platform, auth, OpenAPI, the console's page). */
export function servedRoutes(): Map<AppName, Served> {
  const platform = PlatformModule.forRoot({ config: loadConfig({}), logger: pino({ level: 'silent' }) as unknown as RootLogger, entities: [] });
  const result = new Map<AppName, Served>();
  for (const app of APP_NAMES) {
    const served: Served = { http: ['/api/docs', '/api/docs/openapi.json'], ws: [] };
    collect(platform as ModuleLike, served);
    collect(AuthModule, served);
    collect(APP_MODULES[app], served);
    if (app === 'console') served.http.push('/', ...readdirSync(CONSOLE_PUBLIC).map((f) => `/${f}`));
    result.set(app, { http: [...new Set(served.http)], ws: [...new Set(served.ws)] });
  }
  return result;
}

/** A concrete request path for a route pattern: `/api/v1/alerts/:id` → `/api/v1/alerts/x`. */
const sample = (pattern: string) => pattern.replace(/:[^/]+/g, 'x');

/** The app's own /health and /metrics stay off the edge. */
const INTERNAL = new Set(['/health', '/metrics']);

/**
 * The edge route table against what the apps serve: every public route reaches an app that serves it, every
 * entry of the table leads to something its app serves, and the console's page files are the ones listed.
 */
export function routeTableProblems(served: Map<AppName, Served>, routes: readonly EdgeRoute[], publicFiles: string[]): string[] {
  const problems: string[] = [];
  const serves = (app: AppName, pattern: string) => served.get(app)!.http.includes(pattern);
  for (const [app, s] of served) {
    for (const pattern of s.http.filter((p) => !INTERNAL.has(p))) {
      const r = routeFor(sample(pattern), routes);
      if (!r) problems.push(`${app} serves ${pattern}, but the edge route table sends it nowhere`);
      else if (r.websocket || !serves(r.app, pattern)) problems.push(`the edge sends ${pattern} (served by ${app}) to ${r.app}${r.websocket ? ' as a WebSocket' : ''}, which does not serve it`);
    }
    for (const path of s.ws) {
      const r = routeFor(path, routes);
      if (!r?.websocket || !served.get(r.app)!.ws.includes(path)) problems.push(`${app}'s WebSocket ${path} is not a websocket route to an app that serves it`);
    }
  }
  for (const r of routes) {
    const own = served.get(r.app);
    if (!own) {
      problems.push(`route ${r.path} names an unknown app ${r.app}`);
      continue;
    }
    const found = r.websocket ? own.ws.includes(r.path) : own.http.some((p) => routeMatches(r, sample(p)));
    if (!found) problems.push(`route ${r.match} ${r.path} → ${r.app}: ${r.app} serves nothing there`);
    if (r.path === EDGE_HEALTH_PATH) problems.push(`${EDGE_HEALTH_PATH} is answered by the edge itself and may not be routed`);
  }
  const listed = [...CONSOLE_PAGE_FILES].sort().join(', ');
  const actual = [...publicFiles].sort().join(', ');
  if (listed !== actual) problems.push(`CONSOLE_PAGE_FILES (${listed}) differ from apps/console/public (${actual})`);
  return problems;
}
