import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { readEnvironment } from '@linan/platform';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
  /**
   * Copies the database as it is now (ending every session to it first: cut the clients off before, or they come
   * straight back). `restore` puts the database back to that copy, as a restore to a point in time or a failover to a
   * replica that was behind would (its sessions ended too); `drop` removes the copy.
   */
  saveCopy(): Promise<{ restore(): Promise<void>; drop(): Promise<void> }>;
}

/** Ends every session to a database but the caller's. */
const endSessions = (c: Client, name: string) =>
  c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);

/** The PostgreSQL server tests may use: TEST_POSTGRES_URL, or the machine's own on 127.0.0.1:5432. */
export function testPostgresServer(): string {
  return readEnvironment().TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: testPostgresServer(), connectionTimeoutMillis: 3_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** True when the test PostgreSQL server answers (specs that need it are skipped, loudly, when it does not). */
export async function postgresAvailable(): Promise<boolean> {
  try {
    await admin((c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/** A fresh, empty database for one test run; drop() removes it (and any connection still open to it). */
export async function createTestDatabase(prefix = 'linan_test'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(testPostgresServer());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
    saveCopy: async () => {
      const copy = `${name}_copy_${randomBytes(3).toString('hex')}`;
      // CREATE DATABASE … TEMPLATE waits a few seconds for the ended sessions to be gone
      await admin(async (c) => {
        await endSessions(c, name);
        await c.query(`CREATE DATABASE ${copy} TEMPLATE ${name}`);
      });
      return {
        restore: () => admin(async (c) => {
          await c.query(`DROP DATABASE ${name} WITH (FORCE)`);
          await c.query(`CREATE DATABASE ${name} TEMPLATE ${copy}`);
        }),
        drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`)).then(() => undefined),
      };
    },
  };
}
