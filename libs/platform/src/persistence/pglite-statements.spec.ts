import { PGlite } from '@electric-sql/pglite';
import { PreparedPglite } from './pglite-statements';

describe('PreparedPglite (statements prepared once, then run in one call each)', () => {
  let raw: PGlite;
  let db: PreparedPglite;

  beforeEach(async () => {
    raw = await PGlite.create();
    db = new PreparedPglite(raw, 3);
    await db.exec(`CREATE TABLE t (
      id uuid PRIMARY KEY, n int NOT NULL UNIQUE, big bigint, at timestamptz, doc jsonb, tags text[], ok boolean, note text
    )`);
  });
  afterEach(() => db.close());

  const row = {
    id: '5b0c3d8e-8c1d-4a8e-9d55-0c7a3c1f2e10', n: 1, big: '9007199254740993', at: new Date('2026-12-06T08:00:00.123Z'),
    doc: { name: '张三', quote: 'a "b" \\ c', list: [1, null] }, tags: ['x', 'with "quote"', 'back\\slash', null, '中文'], ok: true, note: null,
  };
  const insert = (r: typeof row) => db.query(
    'INSERT INTO t (id, n, big, at, doc, tags, ok, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
    [r.id, r.n, r.big, r.at, r.doc, r.tags, r.ok, r.note],
  );

  it('returns what PGlite\'s own query returns for the same statement and values', async () => {
    expect((await insert(row)).affectedRows).toBe(1);
    const sql = 'SELECT id, n, big, at, doc, tags, ok, note FROM t WHERE id = $1 AND n = ANY($2::int[])';
    const mine = await db.query(sql, [row.id, [1, 2]]);
    const theirs = await raw.query(sql, [row.id, [1, 2]]);
    expect(mine.rows).toEqual(theirs.rows);
    expect(mine.fields).toEqual(theirs.fields);
    expect(mine.rows[0]).toMatchObject({ id: row.id, n: 1, at: row.at, doc: row.doc, tags: row.tags, ok: true, note: null });
  });

  it('returns a reply of several megabytes, which the database hands over in many pieces, whole and in order', async () => {
    const sql = `SELECT g AS n, repeat('行' || g::text, 40) AS text, g::bigint * 1000 AS big FROM generate_series(1, 20000) g WHERE g > $1`;
    const mine = await db.query(sql, [0]);
    const theirs = await raw.query(sql, [0]);
    expect(mine.rows).toHaveLength(20000);
    expect(mine.rows).toEqual(theirs.rows);
    expect((mine.rows[19999] as { text: string }).text).toBe('行20000'.repeat(40));
    expect(JSON.stringify(mine.rows).length).toBeGreaterThan(4_000_000);
  });

  it('passes values as node-postgres does: dates, objects as JSON, arrays with quotes, backslashes and NULLs', async () => {
    await insert(row);
    const [stored] = (await raw.query<{ at: string; doc: string; tags: string; big: string }>(
      'SELECT at::text, doc::text, tags::text, big::text FROM t',
    )).rows;
    expect(new Date(stored.at).toISOString()).toBe(row.at.toISOString());
    expect(JSON.parse(stored.doc)).toEqual(row.doc);
    expect(stored.tags).toBe('{x,"with \\"quote\\"","back\\\\slash",NULL,中文}');
    expect(stored.big).toBe('9007199254740993');
  });

  it('prepares each distinct statement once and keeps at most its capacity, closing the least recently used', async () => {
    const a = 'SELECT $1::int + 1 AS v';
    const b = 'SELECT $1::int + 2 AS v';
    const c = 'SELECT $1::int + 3 AS v';
    const d = 'SELECT $1::int + 4 AS v';
    for (let i = 0; i < 3; i++) expect((await db.query(a, [i])).rows).toEqual([{ v: i + 1 }]);
    expect(db.preparedCount).toBe(1);
    await db.query(b, [0]);
    await db.query(c, [0]);
    await db.query(a, [0]); // a is now the most recently used: b goes first
    await db.query(d, [0]);
    expect(db.preparedCount).toBe(3);
    const names = async () => (await raw.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement')).rows.map((r) => r.statement);
    expect(await names()).toEqual([a, c, d].sort());
    expect((await db.query(b, [1])).rows).toEqual([{ v: 3 }]); // prepared again when needed
  });

  it('keeps nothing of a statement that does not parse, and goes on working', async () => {
    await expect(db.query('SELECT FROM WHERE $1', [1])).rejects.toThrow(/syntax error/);
    expect(db.preparedCount).toBe(0);
    expect((await db.query('SELECT $1::text AS s', ['ok'])).rows).toEqual([{ s: 'ok' }]);
  });

  it('reports a failing statement with PostgreSQL\'s code and constraint, and the connection stays usable', async () => {
    await insert(row);
    const err = await insert({ ...row, id: '0b0c3d8e-8c1d-4a8e-9d55-0c7a3c1f2e10' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', constraint: 't_n_key' });
    expect((await db.query('SELECT count(*)::int AS n FROM t WHERE n = $1', [1])).rows).toEqual([{ n: 1 }]);
  });

  it('sees a table\'s new shape after a schema change (prepared plans are dropped)', async () => {
    await insert(row);
    const sql = 'SELECT * FROM t WHERE n = $1';
    expect(Object.keys((await db.query(sql, [1])).rows[0])).not.toContain('extra');
    await db.exec('ALTER TABLE t ADD COLUMN extra int NOT NULL DEFAULT 7');
    expect((await db.query(sql, [1])).rows[0]).toMatchObject({ extra: 7 });
  });

  it('works inside a transaction, and a rolled-back one leaves nothing', async () => {
    await db.exec('START TRANSACTION');
    await insert(row);
    expect((await db.query('SELECT count(*)::int AS n FROM t WHERE n > $1', [0])).rows).toEqual([{ n: 1 }]);
    await db.exec('ROLLBACK');
    expect((await db.query('SELECT count(*)::int AS n FROM t WHERE n > $1', [0])).rows).toEqual([{ n: 0 }]);
  });
});
