import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { StartupError, type AppConfig } from '../config/config';
import { Database } from './database';
import { MIGRATIONS } from './migrations';
import { pgliteDriver } from './pglite-driver';
import { PreparedPglite } from './pglite-statements';
import { PgliteThread, type PgliteLike } from './pglite-thread';
import { pgWithStatementCache } from './statement-cache';
import { PGlite } from '@electric-sql/pglite';

export type Entities = MixedList<string | (new () => unknown) | EntitySchema>;

export interface OpenedDatabase {
  database: Database;
  kind: 'pglite' | 'postgres';
  location: string;
  close(): Promise<void>;
}

/**
 * PGlite's own start parameters, plus: a new WAL segment is not filled with 16 MiB of zeros first (PGlite runs with
 * fsync off, so the zeros buy nothing, and writing them held an alarm up for 10–20 ms every 16 MiB of WAL).
 */
const EMBEDDED_START_PARAMS = [...PGlite.defaultStartParams, '-c', 'wal_init_zero=off'];

/** SQLSTATEs of a server that answered and refused: a wrong password, an unknown role, an unknown database. */
const REFUSED = new Set(['28P01', '28000', '3D000']);

/** Why the apps cannot use PostgreSQL at start, worded for whoever set DATABASE_URL. */
export function postgresStartupMessage(where: string, e: unknown): string {
  const { code, message } = e as { code?: string; message?: string };
  if (code && REFUSED.has(code)) {
    return `PostgreSQL at ${where} (DATABASE_URL) refused the connection: ${message}. Create the role and the database first `
      + '(docs/deployment.md, "What must exist first"), or correct DATABASE_URL';
  }
  return `cannot reach PostgreSQL at ${where} (DATABASE_URL): ${message ?? String(e)}`;
}

/**
 * PostgreSQL when DATABASE_URL is set, otherwise PGlite in DATA_DIR/pg. Runs the migrations either way. On PostgreSQL
 * every connection carries `applicationName` (pg_stat_activity shows which app holds which connection).
 */
export async function openDatabase(config: AppConfig, entities: Entities, applicationName = 'linan'): Promise<OpenedDatabase> {
  const common = { entities, migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false } as const;
  if (config.database.url) {
    const ds = new DataSource({
      ...common, migrationsRun: false, type: 'postgres', url: config.database.url, poolSize: config.database.poolSize, applicationName,
      connectTimeoutMS: 10_000, driver: pgWithStatementCache(config.database.statementCache),
    });
    try {
      await ds.initialize();
    } catch (e) {
      throw new StartupError(postgresStartupMessage(redactUrl(config.database.url), e), { cause: e });
    }
    try {
      await migrateExclusively(ds);
    } catch (e) {
      await ds.destroy().catch(() => undefined);
      throw e;
    }
    return { database: new Database(ds), kind: 'postgres', location: redactUrl(config.database.url), close: () => ds.destroy() };
  }
  const inMemory = config.dataDir === 'memory://';
  const dir = inMemory ? 'memory://' : resolve(join(config.dataDir, 'pg'));
  if (!inMemory) mkdirSync(dir, { recursive: true });
  const unlock = inMemory ? () => undefined : lockDataDir(dir);
  let pg: PgliteLike;
  try {
    pg = config.database.embeddedThread === 'worker' ? await PgliteThread.start(dir, EMBEDDED_START_PARAMS) : new PreparedPglite(await PGlite.create({ dataDir: inMemory ? undefined : dir, startParams: EMBEDDED_START_PARAMS }));
  } catch (e) {
    unlock();
    throw new StartupError(`cannot open the embedded database in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const driver = pgliteDriver(pg);
  const ds = new DataSource({ ...common, type: 'postgres', driver });
  await ds.initialize();
  return {
    database: new Database(ds, driver.quietForMs),
    kind: 'pglite',
    location: dir,
    close: async () => {
      await ds.destroy();
      await pg.close();
      unlock();
    },
  };
}

/** Any constant works as long as every app uses the same one: it names "the schema migration" among advisory locks. */
const MIGRATION_LOCK = 7_146_350_001;

/**
 * Several apps (and replicas) start at once against one PostgreSQL; the first to take the advisory lock migrates,
 * the others wait for it and then find nothing left to run.
 */
async function migrateExclusively(ds: DataSource): Promise<void> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await ds.runMigrations({ transaction: 'all' });
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
  }
}

/**
 * The embedded database belongs to one process: a second `npm start` on the same folder would corrupt it. A lock
 * file holds the owner's pid; a lock left by a process that no longer runs (killed) is taken over.
 */
function lockDataDir(dir: string): () => void {
  const file = join(dir, 'linan.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(file);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new StartupError(`the data folder ${dir} is in use by process ${owner} (is the platform already running?). Stop it, or set DATA_DIR to another folder.`);
      }
      unlinkSync(file);
    }
  }
  throw new StartupError(`cannot lock the data folder ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
