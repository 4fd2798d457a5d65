import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import type { AppConfig } from '../config/config';
import { Database } from './database';
import { MIGRATIONS } from './migrations';
import { pgliteDriver } from './pglite-driver';

export type Entities = MixedList<string | (new () => unknown) | EntitySchema>;

export interface OpenedDatabase {
  database: Database;
  kind: 'pglite' | 'postgres';
  location: string;
  close(): Promise<void>;
}

/** PostgreSQL when DATABASE_URL is set, otherwise PGlite in DATA_DIR/pg. Runs the migrations either way. */
export async function openDatabase(config: AppConfig, entities: Entities): Promise<OpenedDatabase> {
  const common = { entities, migrations: MIGRATIONS, migrationsRun: true, synchronize: false, logging: false } as const;
  if (config.database.url) {
    const ds = new DataSource({ ...common, type: 'postgres', url: config.database.url, poolSize: config.database.poolSize });
    try {
      await ds.initialize();
    } catch (e) {
      throw new Error(`cannot reach PostgreSQL at ${redactUrl(config.database.url)}: ${(e as Error).message}`, { cause: e });
    }
    return { database: new Database(ds), kind: 'postgres', location: redactUrl(config.database.url), close: () => ds.destroy() };
  }
  const inMemory = config.dataDir === 'memory://';
  const dir = inMemory ? 'memory://' : resolve(join(config.dataDir, 'pg'));
  if (!inMemory) mkdirSync(dir, { recursive: true });
  let pg: PGlite;
  try {
    pg = await PGlite.create({ dataDir: dir });
  } catch (e) {
    throw new Error(`cannot open the embedded database in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  const ds = new DataSource({ ...common, type: 'postgres', driver: pgliteDriver(pg) });
  await ds.initialize();
  return {
    database: new Database(ds),
    kind: 'pglite',
    location: dir,
    close: async () => {
      await ds.destroy();
      await pg.close();
    },
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
