import type { AppName } from '@linan/platform';

/**
 * The edge's route table: which app answers which public path when every app runs as its own process.
 *
 * One table for every edge: the reverse proxy of `npm run start:distributed` routes by it, and
 * test/deploy-config.spec.ts checks the nginx config (deploy/nginx/linan.conf) and the Kubernetes Ingress
 * against it, and checks it against the routes the apps' controllers actually serve.
 *
 * - `prefix` matches the path itself and everything below it by whole segments (`/api/v1/alerts` matches
 *   `/api/v1/alerts` and `/api/v1/alerts/7/resolve`, not `/api/v1/alertsx`): a Kubernetes `Prefix` path.
 * - `exact` matches that path only.
 *
 * Nothing else is forwarded: each app's `/health` and `/metrics` stay on its own port for probes and scrapers.
 * The edge answers `EDGE_HEALTH_PATH` itself.
 */
export interface EdgeRoute {
  readonly path: string;
  readonly match: 'prefix' | 'exact';
  readonly app: AppName;
  /** The path is a WebSocket endpoint: the edge must pass the HTTP upgrade through. */
  readonly websocket?: boolean;
  readonly what: string;
}

/** The console's static page and its files (apps/console/public; the deploy-config test keeps the two in step). */
export const CONSOLE_PAGE_FILES = ['index.html', 'app.js', 'app.css', 'i18n.js'] as const;

export const EDGE_ROUTES: readonly EdgeRoute[] = [
  { path: '/api/v1/households', match: 'prefix', app: 'provisioning', what: 'households (installers, operators)' },
  { path: '/api/v1/devices', match: 'prefix', app: 'provisioning', what: 'device registry and commissioning' },
  { path: '/api/v1/aides', match: 'prefix', app: 'provisioning', what: 'community aides and their duty' },
  { path: '/api/v1/alerts', match: 'prefix', app: 'console', what: 'alert queue, detail, acknowledge, resolve' },
  { path: '/api/v1/dispatches', match: 'prefix', app: 'console', what: 'dispatch records' },
  { path: '/api/v1/embedded/sms', match: 'prefix', app: 'dispatch', what: 'the fake SMS provider’s outbox (every dispatch replica’s, through Redis in distributed mode)' },
  // every app serves login and users (libs/auth); the console is the one the edge uses
  { path: '/api/v1/auth', match: 'prefix', app: 'console', what: 'login, who am I' },
  { path: '/api/v1/users', match: 'prefix', app: 'console', what: 'users (admin)' },
  { path: '/api/docs', match: 'prefix', app: 'console', what: 'OpenAPI of the whole API (dist/openapi.json, served by the console)' },
  { path: '/ws', match: 'exact', app: 'console', websocket: true, what: 'live alert feed (WebSocket)' },
  { path: '/', match: 'exact', app: 'console', what: 'the operators’ console page' },
  ...CONSOLE_PAGE_FILES.map((f): EdgeRoute => ({ path: `/${f}`, match: 'exact', app: 'console', what: 'console page file' })),
];

/** Answered by the edge itself: `npm run start:distributed` reports every app's health there; nginx says it is up. */
export const EDGE_HEALTH_PATH = '/health';

/** Whether a request path (query string allowed) falls under a route. */
export function routeMatches(route: Pick<EdgeRoute, 'path' | 'match'>, requestPath: string): boolean {
  const path = requestPath.split('?')[0];
  if (route.match === 'exact' || route.path === '/') return path === route.path;
  return path === route.path || path.startsWith(`${route.path}/`);
}

/** The route for a request path, or undefined when the edge does not forward it. */
export function routeFor(requestPath: string, routes: readonly EdgeRoute[] = EDGE_ROUTES): EdgeRoute | undefined {
  // longest path first, so a more specific route wins over a shorter one whatever the table's order
  return [...routes].sort((a, b) => b.path.length - a.path.length).find((r) => routeMatches(r, requestPath));
}
