import pg from 'pg';
import { DataSource } from 'typeorm';
import { testPostgresServer, postgresAvailable } from '../../../testing/src/services/postgres';
import { pgWithStatementCache } from './statement-cache';

const available = postgresAvailable();

describe('pgWithStatementCache (PostgreSQL)', () => {
  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the statement cache tests');
  });

  const prepared = async (pool: pg.Pool) =>
    (await pool.query<{ name: string; statement: string }>('SELECT name, statement FROM pg_prepared_statements ORDER BY name')).rows;

  it('prepares each statement with parameters once per connection, up to its size, and answers as before', async () => {
    const pool = new (pgWithStatementCache(2).Pool)({ connectionString: testPostgresServer(), max: 1 });
    try {
      const plain = new pg.Pool({ connectionString: testPostgresServer(), max: 1 });
      const a = 'SELECT $1::int + 1 AS n';
      const b = 'SELECT upper($1::text) AS s';
      const c = 'SELECT $1::int * 2 AS n';
      for (let i = 0; i < 3; i++) {
        expect((await pool.query(a, [i])).rows).toEqual((await plain.query(a, [i])).rows);
        expect((await pool.query(b, ['é'])).rows).toEqual([{ s: 'É' }]);
        expect((await pool.query(c, [i])).rows).toEqual([{ n: i * 2 }]);
      }
      await plain.end();
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]); // no parameters: not prepared
      expect(await prepared(pool)).toEqual([{ name: 'linan_1', statement: a }, { name: 'linan_2', statement: b }]);
      // a statement that fails leaves the connection working
      await expect(pool.query('SELEC $1', [1])).rejects.toThrow(/syntax error/);
      expect((await pool.query(a, [41])).rows).toEqual([{ n: 42 }]);
    } finally {
      await pool.end();
    }
  });

  it('is node-postgres itself at size 0', () => {
    expect(pgWithStatementCache(0)).toBe(pg);
  });

  it('serves TypeORM as its driver', async () => {
    const ds = new DataSource({ type: 'postgres', url: testPostgresServer(), poolSize: 1, driver: pgWithStatementCache(10), entities: [] });
    await ds.initialize();
    try {
      expect(await ds.query('SELECT $1::text AS v', ['x'])).toEqual([{ v: 'x' }]);
      await ds.transaction(async (m) => expect(await m.query('SELECT $1::int AS v', [7])).toEqual([{ v: 7 }]));
      const names = (await ds.query('SELECT statement FROM pg_prepared_statements')) as { statement: string }[];
      expect(names.map((n) => n.statement)).toEqual(expect.arrayContaining(['SELECT $1::text AS v', 'SELECT $1::int AS v']));
    } finally {
      await ds.destroy();
    }
  });
});
