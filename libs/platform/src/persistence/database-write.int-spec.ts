import { openTestDatabase } from '../../../testing/src/test-platform';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { combineWrites, runsOfWrites } from './database';
import type { OpenedDatabase } from './open-database';

describe('combineWrites', () => {
  it('numbers each write\'s placeholders after the ones before it and answers with rows or a count', () => {
    const { sql, params } = combineWrites([
      { sql: 'INSERT INTO a (x, y) VALUES ($1, $2)', params: [1, 2] },
      { sql: 'UPDATE b SET v = $2 WHERE id = $1 RETURNING id', params: ['k', 'v'], onRows: () => undefined },
      { sql: 'DELETE FROM c WHERE id = ANY($1::int[])', params: [[3]] },
    ]);
    expect(sql).toBe('WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2) RETURNING 1), '
      + 'w1 AS (UPDATE b SET v = $4 WHERE id = $3 RETURNING id), w2 AS (DELETE FROM c WHERE id = ANY($5::int[]) RETURNING 1) '
      + 'SELECT (SELECT count(*) FROM w0)::int AS r0, (SELECT coalesce(json_agg(w1), \'[]\'::json) FROM w1) AS r1, (SELECT count(*) FROM w2)::int AS r2');
    expect(params).toEqual([1, 2, 'k', 'v', [3]]);
  });

  it('starts a new statement at a write to a table already written in the current one', () => {
    const w = (sql: string) => ({ sql });
    const runs = runsOfWrites([
      w('INSERT INTO alerts (id) VALUES ($1)'), w('insert into alert_log (x) VALUES ($1)'), w('UPDATE "alerts" SET v = 1'),
      w('DELETE FROM outbox_batches WHERE id = $1'), w('INSERT INTO alert_log (x) VALUES ($1)'), w('UPDATE alerts AS a SET v = 2'),
    ]);
    expect(runs.map((r) => r.map((x) => x.sql.split(' ')[0]))).toEqual([['INSERT', 'insert'], ['UPDATE', 'DELETE', 'INSERT'], ['UPDATE']]);
    expect(() => runsOfWrites([w('SELECT 1')])).toThrow(/INSERT, UPDATE or DELETE/);
  });
});

const available = postgresAvailable();

describe.each(['embedded', 'PostgreSQL'])('Database.write (%s)', (kind) => {
  let pg: TestDatabase | undefined;
  let opened: OpenedDatabase;
  /** The statements sent to the database since the test began, in order. */
  let sent: string[] = [];

  beforeAll(async () => {
    if (kind === 'PostgreSQL') {
      if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for these tests');
      pg = await createTestDatabase();
    }
    opened = await openTestDatabase(pg ? { DATABASE_URL: pg.url } : {});
    await opened.database.query('CREATE TABLE held_a (id int PRIMARY KEY, v text NOT NULL)');
    await opened.database.query('CREATE TABLE held_b (id bigserial PRIMARY KEY, a_id int NOT NULL REFERENCES held_a (id), note text)');
    const ds = opened.database.dataSource;
    const create = ds.createQueryRunner.bind(ds);
    ds.createQueryRunner = (...args: Parameters<typeof create>) => {
      const runner = create(...args);
      const query = runner.query.bind(runner);
      runner.query = ((sql: string, ...rest: unknown[]) => {
        sent.push(sql.split(/\s+/).slice(0, 2).join(' '));
        return (query as (...a: unknown[]) => Promise<unknown>)(sql, ...rest);
      }) as typeof runner.query;
      return runner;
    };
  });
  beforeEach(async () => {
    await opened.database.query('TRUNCATE held_b, held_a');
    sent = [];
  });
  afterAll(async () => {
    await opened?.close();
    await pg?.drop();
  });

  const rows = async () => ({
    a: await opened.database.query<{ id: number; v: string }>('SELECT id, v FROM held_a ORDER BY id'),
    b: (await opened.database.query<{ a_id: number; note: string }>('SELECT a_id, note FROM held_b ORDER BY id')).map((r) => [r.a_id, r.note]),
  });

  it('answers UPDATE and DELETE … RETURNING through query() with their rows, like any statement', async () => {
    await opened.database.query("INSERT INTO held_a (id, v) VALUES (1, 'a'), (2, 'b')");
    expect(await opened.database.query('UPDATE held_a SET v = $1 WHERE id = ANY($2::int[]) RETURNING id, v', ['c', [1, 2]]))
      .toEqual([{ id: 1, v: 'c' }, { id: 2, v: 'c' }]);
    expect(await opened.database.query('DELETE FROM held_a WHERE id = $1 RETURNING id', [2])).toEqual([{ id: 2 }]);
    expect(await opened.database.query('UPDATE held_a SET v = $1 WHERE id = 99 RETURNING id', ['d'])).toEqual([]);
  });

  it('sends a transaction\'s trailing writes as one statement before it commits, a child row with its parent, and hands back RETURNING rows', async () => {
    const db = opened.database;
    let ids: unknown[] = [];
    await db.run(async () => {
      await db.write('INSERT INTO held_a (id, v) SELECT * FROM unnest($1::int[], $2::text[])', [[1, 2], ['one', 'two']]);
      await db.write('INSERT INTO held_b (a_id, note) VALUES ($1, $2) RETURNING id', [2, 'child of two'], (r) => (ids = r.map((x) => x.id)));
      expect(ids).toEqual([]); // held until the commit
    });
    expect(sent.filter((s) => s !== 'START TRANSACTION' && s !== 'BEGIN' && s !== 'COMMIT')).toEqual(['WITH w0']);
    expect(ids).toHaveLength(1);
    expect(Number(ids[0])).toBeGreaterThan(0);
    expect(await rows()).toEqual({ a: [{ id: 1, v: 'one' }, { id: 2, v: 'two' }], b: [[2, 'child of two']] });
  });

  it('sends a write to a table written earlier in the same statement after it, so it sees those rows', async () => {
    const db = opened.database;
    let inserted: unknown[] = [];
    await db.run(async () => {
      await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2)', [1, 'one']);
      await db.write('UPDATE held_a SET v = $2 WHERE id = $1', [1, 'ONE']);
      await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2) RETURNING id, v', [3, 'three'], (r) => (inserted = r));
    });
    expect(sent.filter((s) => s.startsWith('WITH'))).toHaveLength(3);
    expect(inserted).toEqual([{ id: 3, v: 'three' }]);
    expect(await rows()).toEqual({ a: [{ id: 1, v: 'ONE' }, { id: 3, v: 'three' }], b: [] });
  });

  it('sends held writes before any later statement of the transaction, so it reads what was written', async () => {
    const db = opened.database;
    await db.run(async () => {
      await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2)', [7, 'seven']);
      const seen = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM held_a');
      // a TypeORM repository or query builder statement goes through the same runner
      const viaBuilder = await db.manager().createQueryBuilder().select('v').from('held_a', 'a').where('a.id = :id', { id: 7 }).getRawOne<{ v: string }>();
      expect(seen).toEqual([{ n: 1 }]);
      expect(viaBuilder).toEqual({ v: 'seven' });
    });
    expect(await rows()).toEqual({ a: [{ id: 7, v: 'seven' }], b: [] });
  });

  it('rolls the whole transaction back when a held write fails, and changes nothing', async () => {
    const db = opened.database;
    await db.query('INSERT INTO held_a (id, v) VALUES (1, $1)', ['kept']);
    await expect(db.run(async () => {
      await db.write('UPDATE held_a SET v = $1 WHERE id = 1', ['changed']);
      await db.write('INSERT INTO held_b (a_id, note) VALUES ($1, $2)', [99, 'no such parent']);
    })).rejects.toThrow(/foreign key/);
    expect(await rows()).toEqual({ a: [{ id: 1, v: 'kept' }], b: [] });
  });

  it('drops what is held when the work fails, rolls back, and the connection serves the next transaction', async () => {
    const db = opened.database;
    await expect(db.run(async () => {
      await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2)', [8, 'eight']);
      throw new Error('the work failed after a held write');
    })).rejects.toThrow('the work failed after a held write');
    expect(sent.filter((s) => s.startsWith('WITH'))).toEqual([]);
    await db.run(async () => db.write('INSERT INTO held_a (id, v) VALUES ($1, $2)', [9, 'nine']));
    expect(await rows()).toEqual({ a: [{ id: 9, v: 'nine' }], b: [] });
  });

  it('rolls back when a write\'s onRows throws (the caller found its answer wrong)', async () => {
    const db = opened.database;
    await expect(db.run(async () => {
      await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id', [5, 'five'], (r) => {
        if (r.length !== 2) throw new Error(`expected 2 rows, got ${r.length}`);
      });
    })).rejects.toThrow('expected 2 rows, got 1');
    expect(await rows()).toEqual({ a: [], b: [] });
  });

  it('runs at once outside a transaction, and refuses onRows without a RETURNING clause', async () => {
    const db = opened.database;
    let got: unknown[] = [];
    await db.write('INSERT INTO held_a (id, v) VALUES ($1, $2) RETURNING v', [4, 'four'], (r) => (got = r));
    expect(got).toEqual([{ v: 'four' }]);
    expect(await rows()).toEqual({ a: [{ id: 4, v: 'four' }], b: [] });
    await expect(db.write('INSERT INTO held_a (id, v) VALUES ($1, $2)', [6, 'six'], () => undefined)).rejects.toThrow(/RETURNING/);
    expect((await rows()).a).toHaveLength(1);
  });
});
