import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeApi, EDGE_ROUTES, routeFor } from '@linan/runtime';
import { EMBEDDED_SPEC } from '../apps/embedded/src/embedded-app.module';
import { documentText } from '../scripts/openapi';

const COMMITTED = join(__dirname, '..', 'docs', 'openapi.json');

describe('the whole API\'s OpenAPI document (docs/openapi.json, and dist/openapi.json that the console serves)', () => {
  let document: Awaited<ReturnType<typeof describeApi>>;
  beforeAll(async () => {
    document = await describeApi(EMBEDDED_SPEC);
  });

  it('is what the code describes: docs/openapi.json is up to date (else run npm run openapi)', () => {
    expect(readFileSync(COMMITTED, 'utf8')).toBe(documentText(document));
  });

  it('covers every app\'s routes, and the edge forwards every path in it', () => {
    const paths = Object.keys(document.paths);
    // one route of each app that serves an API
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/households', '/api/v1/alerts', '/api/v1/embedded/sms', '/api/v1/auth/login']));
    for (const route of EDGE_ROUTES.filter((r) => r.path.startsWith('/api/v1/'))) {
      expect({ route: route.path, documented: paths.some((p) => p === route.path || p.startsWith(`${route.path}/`)) }).toEqual({ route: route.path, documented: true });
    }
    for (const p of paths) expect({ path: p, routed: routeFor(p.replace(/\{[^}]+\}/g, 'x')) !== undefined }).toEqual({ path: p, routed: true });
  });
});
