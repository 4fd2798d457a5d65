import type { Logger } from 'pino';
import { Database } from './database';

/**
 * PostgreSQL settings the platform relies on and an operator can turn off. Both are on by default; `autovacuum` needs
 * `track_counts` to know which tables to vacuum.
 */
export const REQUIRED_SERVER_SETTINGS = ['autovacuum', 'track_counts'] as const;

/**
 * Checks at boot that PostgreSQL reclaims dead rows by itself, and says so loudly when it does not: every alert
 * moving through its states and every dispatch result leaves a dead row, and without autovacuum nothing reclaims
 * them, so tables and indexes grow and the alarm path slows the longer the platform runs. Returns the settings that
 * are off. Only a warning: the platform works, and the fix belongs to whoever runs the database.
 */
export async function checkServerSettings(db: Database, log: Logger): Promise<string[]> {
  const rows = await db.outside(() => db.query<{ name: string; setting: string }>(
    'SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])', [[...REQUIRED_SERVER_SETTINGS]]));
  const off = rows.filter((r) => r.setting === 'off').map((r) => r.name).sort();
  if (off.length) {
    log.warn({ settings: off }, `PostgreSQL runs with ${off.join(' and ')} off: dead rows from alert and dispatch updates are never ` +
      'reclaimed and the alarm path slows as tables grow; turn it on (the default) or vacuum the database on a schedule');
  }
  return off;
}
