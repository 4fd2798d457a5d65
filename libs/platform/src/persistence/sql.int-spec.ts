import { openTestDatabase } from '../../../testing/src/test-platform';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import type { OpenedDatabase } from './open-database';
import { col, unnestRows } from './sql';

interface Row { id: string; name: string | null; at: Date | null; data: unknown; n: number; ok: boolean | null }

const columns = [
  col<Row>('id', 'uuid', (r) => r.id), col<Row>('name', 'text', (r) => r.name), col<Row>('at', 'timestamptz', (r) => r.at),
  col<Row>('data', 'jsonb', (r) => JSON.stringify(r.data)), col<Row>('n', 'int', (r) => r.n), col<Row>('ok', 'boolean', (r) => r.ok),
];

const available = postgresAvailable();

describe.each(['embedded', 'PostgreSQL'])('unnestRows on the %s database', (kind) => {
  let pg: TestDatabase | undefined;
  let opened: OpenedDatabase;

  beforeAll(async () => {
    if (kind === 'PostgreSQL') {
      if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for these tests');
      pg = await createTestDatabase();
    }
    opened = await openTestDatabase(pg ? { DATABASE_URL: pg.url } : {});
  });
  afterAll(async () => {
    await opened?.close();
    await pg?.drop();
  });

  it('round-trips awkward values unchanged', async () => {
    const rows: Row[] = [
      { id: '7a0f0c1e-8d9c-4e5e-9a36-0c4a2d3b7f10', name: 'a"b\\c,{x} NULL', at: new Date(0), data: { q: 'say "hi"\\', z: '中文', n: null }, n: -5, ok: true },
      { id: '7a0f0c1e-8d9c-4e5e-9a36-0c4a2d3b7f11', name: null, at: null, data: [], n: 0, ok: null },
      { id: '7a0f0c1e-8d9c-4e5e-9a36-0c4a2d3b7f12', name: 'NULL', at: new Date('2026-12-06T05:00:00.123Z'), data: 'line\nbreak\ttab', n: 7, ok: false },
      { id: '7a0f0c1e-8d9c-4e5e-9a36-0c4a2d3b7f13', name: '', at: null, data: { emoji: '🚨', quote: '\\"' }, n: 2147483647, ok: true },
    ];
    const v = unnestRows(rows, columns);
    const out = await opened.database.query<Row>(`SELECT * FROM ${v.from}`, v.params);
    expect(out).toEqual(rows);
  });

  it('takes no rows', async () => {
    const v = unnestRows<Row>([], columns);
    expect(await opened.database.query(`SELECT * FROM ${v.from}`, v.params)).toEqual([]);
  });
});
