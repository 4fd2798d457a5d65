import { EDGE_HEALTH_PATH, type EdgeRoute } from '@linan/runtime';
import type { ComposeApp, ComposeFile } from './compose-checks';

export interface NginxLocation {
  modifier: string;
  path: string;
  body: string;
  /** The upstream of `proxy_pass http://<upstream>`, and whatever follows it (a URI part would rewrite paths). */
  upstream?: string;
  uri?: string;
}
export interface NginxConf {
  upstreams: Map<string, string[]>;
  locations: NginxLocation[];
}

/** Enough of nginx's syntax for our edge file: upstream blocks and flat location blocks. */
export function parseNginx(text: string): NginxConf {
  const clean = text.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '')).join('\n');
  const upstreams = new Map<string, string[]>();
  for (const m of clean.matchAll(/upstream\s+(\S+)\s*\{([^}]*)\}/g)) {
    upstreams.set(m[1], [...m[2].matchAll(/server\s+([^\s;]+)/g)].map((s) => s[1]));
  }
  const locations: NginxLocation[] = [];
  for (const m of clean.matchAll(/location\s+(?:(=|\^~|~\*?)\s+)?(\S+)\s*\{([^}]*)\}/g)) {
    const pass = /proxy_pass\s+https?:\/\/([^/;\s]+)([^;\s]*)\s*;/.exec(m[3]);
    locations.push({ modifier: m[1] ?? '', path: m[2], body: m[3], upstream: pass?.[1], uri: pass?.[2] || undefined });
  }
  return { upstreams, locations };
}

/**
 * The nginx edge against the route table: the same paths with the same match, each to an upstream of compose
 * services that run the route's app on their PORT; the WebSocket upgraded; /health answered by nginx itself.
 */
export function nginxProblems(conf: NginxConf, routes: readonly EdgeRoute[], compose: ComposeFile, apps: ComposeApp[]): string[] {
  const problems: string[] = [];
  const key = (match: string, path: string) => `${match} ${path}`;
  const wanted = new Map(routes.map((r) => [key(r.match, r.path), r]));
  const seen = new Set<string>();
  for (const loc of conf.locations) {
    if (!loc.upstream) continue;
    const match = loc.modifier === '=' ? 'exact' : loc.modifier === '' ? 'prefix' : `regex(${loc.modifier})`;
    const k = key(match, loc.path);
    const route = wanted.get(k);
    if (!route) {
      problems.push(`nginx: location ${loc.modifier} ${loc.path} is not in the edge route table`);
      continue;
    }
    seen.add(k);
    if (loc.uri) problems.push(`nginx: location ${loc.path} rewrites the path (proxy_pass …${loc.uri})`);
    const servers = conf.upstreams.get(loc.upstream);
    if (!servers?.length) problems.push(`nginx: location ${loc.path} passes to ${loc.upstream}, which is no upstream block`);
    for (const server of servers ?? []) {
      const [host, port] = server.split(':');
      const app = apps.find((a) => a.name === host);
      if (!app) problems.push(`nginx: upstream ${loc.upstream} names ${host}, which is no app service`);
      else {
        if (app.app !== route.app) problems.push(`nginx: ${loc.path} goes to ${host} (${app.app}); the route table says ${route.app}`);
        if (Number(port ?? 80) !== Number(app.env.PORT ?? 3000)) problems.push(`nginx: upstream ${server} but ${host} listens on ${app.env.PORT ?? 3000}`);
      }
    }
    if (route.websocket) {
      if (!/proxy_set_header\s+Upgrade\s+\$http_upgrade/i.test(loc.body) || !/proxy_set_header\s+Connection\s+\$connection_upgrade/i.test(loc.body)) {
        problems.push(`nginx: ${loc.path} is a WebSocket route but does not pass the upgrade (Upgrade and Connection headers)`);
      }
    }
  }
  for (const [k, r] of wanted) if (!seen.has(k)) problems.push(`nginx: no location for route ${r.match} ${r.path} → ${r.app}`);
  const health = conf.locations.find((l) => l.modifier === '=' && l.path === EDGE_HEALTH_PATH);
  if (!health || health.upstream || !/return\s+200/.test(health.body)) problems.push(`nginx: location = ${EDGE_HEALTH_PATH} should answer 200 itself`);
  const edge = Object.entries(compose.services).find(([, s]) => (s.volumes ?? []).map(String).some((v) => /deploy\/nginx\/linan\.conf:\/etc\/nginx\/conf\.d\/default\.conf/.test(v)));
  if (!edge) problems.push('no service mounts deploy/nginx/linan.conf as /etc/nginx/conf.d/default.conf');
  else {
    // nginx resolves its upstreams' names when it starts: an app service not up yet stops it
    const [edgeName, edgeService] = edge;
    const deps = Array.isArray(edgeService.depends_on) ? edgeService.depends_on : Object.keys(edgeService.depends_on ?? {});
    const proxied = new Set([...conf.upstreams.values()].flat().map((server) => server.split(':')[0]));
    for (const host of proxied) if (!deps.includes(host)) problems.push(`service ${edgeName}: proxies to ${host} but does not wait for it (depends_on)`);
  }
  return problems;
}
