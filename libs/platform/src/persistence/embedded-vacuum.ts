import type { Logger } from 'pino';
import { Database, type QuietOptions } from './database';

/** How often the embedded database is checked for tables that need vacuuming and for a checkpoint that is due. */
export const VACUUM_CHECK_EVERY_MS = 30_000;

/** A catalogue read off the alarm path: outside any transaction, as background work. */
const backgroundQuery = <T>(db: Database, sql: string): Promise<T[]> => db.outside(() => db.background(() => db.query<T>(sql)));

/** A maintenance statement at the next quiet moment (`Database.whenQuiet`); resolves with the time it ran for. */
const whenQuietTimed = (db: Database, sql: string, quiet: QuietOptions): Promise<number> => db.whenQuiet(async () => {
  const started = Date.now();
  await db.query(sql);
  return Date.now() - started;
}, quiet);

/**
 * PostgreSQL's own thresholds for autovacuum (autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × live
 * rows): a table is vacuumed once it holds more dead rows than this.
 */
const deadRowsAllowed = (live: number) => 50 + 0.2 * live;

/**
 * And for its analyze (autovacuum_analyze_threshold + autovacuum_analyze_scale_factor × live rows): a table's
 * statistics are taken again once more rows than this were inserted, updated or deleted since they were last taken.
 */
const changesBeforeAnalyze = (live: number) => 50 + 0.1 * live;

/** What one round of vacuumEmbedded did: the tables vacuumed (and analyzed), and those only analyzed. */
export interface VacuumRound {
  vacuumed: string[];
  analyzed: string[];
}

/**
 * Autovacuum for the embedded database. PGlite runs PostgreSQL in single-user mode, where autovacuum's background
 * workers do not exist, so every update and delete (alerts moving through their states, dispatch results, the bus's
 * offsets and retention, device presence) leaves dead rows that nothing reclaims: tables and their indexes grow and
 * statements slow down the longer the platform runs. Nor are statistics ever taken, and without them the planner
 * reads a grown table as the small one it was: lookups of a few alerts by id became scans of every alert and
 * dispatch, and an alarm's time to its first dispatch doubled over 3,000 alarms (docs/performance.md, "Embedded
 * mode"). This does what autovacuum would: it reads the dead-row and change counts and vacuums and analyzes each
 * table past PostgreSQL's default threshold of dead rows, and analyzes each table past its threshold of changes, one
 * table at a time, as background work. A table's vacuum holds the one connection for up to a few hundred
 * milliseconds and cannot be interrupted, so each waits for a quiet moment (`Database.whenQuiet`: no alarm-path work
 * for a second, or ten minutes at most under sustained load); an analyze reads a sample of at most 30,000 rows and
 * waits likewise.
 */
export async function vacuumEmbedded(db: Database, log: Logger, quiet: QuietOptions = {}): Promise<VacuumRound> {
  const rows = await backgroundQuery<{ relname: string; live: string | number; dead: string | number; changed: string | number }>(db,
    `SELECT relname, n_live_tup AS live, n_dead_tup AS dead, n_mod_since_analyze AS changed
     FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY n_dead_tup DESC`,
  );
  const vacuumed = rows.filter((r) => Number(r.dead) > deadRowsAllowed(Number(r.live))).map((r) => r.relname);
  const analyzed = rows.filter((r) => !vacuumed.includes(r.relname) && Number(r.changed) > changesBeforeAnalyze(Number(r.live)))
    .map((r) => r.relname);
  // a table name from the catalogue, quoted as an identifier
  const quoted = (table: string) => `"${table.replace(/"/g, '""')}"`;
  for (const table of vacuumed) {
    const ms = await whenQuietTimed(db, `VACUUM (ANALYZE) ${quoted(table)}`, quiet);
    log.debug({ table, ms }, 'embedded database: table vacuumed');
  }
  for (const table of analyzed) {
    const ms = await whenQuietTimed(db, `ANALYZE ${quoted(table)}`, quiet);
    log.debug({ table, ms }, 'embedded database: table analyzed');
  }
  return { vacuumed, analyzed };
}

/** WAL written since the last checkpoint after which the embedded database takes one at its next quiet moment. */
export const CHECKPOINT_AFTER_WAL_BYTES = 64 * 1024 * 1024;

/**
 * Checkpoints for the embedded database. Single-user PostgreSQL has no checkpointer process: left alone it takes a
 * checkpoint only when the WAL reaches max_wal_size (1 GiB), in the middle of whatever runs then, and a crash before
 * that means replaying up to 1 GiB of WAL at the next start. So once `walBytes` of WAL have been written since the
 * last checkpoint, this takes one at a quiet moment (`Database.whenQuiet`), which also lets PostgreSQL recycle the old
 * WAL segments. Returns whether it checkpointed.
 */
export async function checkpointEmbedded(
  db: Database, log: Logger, { walBytes = CHECKPOINT_AFTER_WAL_BYTES, ...quiet }: QuietOptions & { walBytes?: number } = {},
): Promise<boolean> {
  const [row] = await backgroundQuery<{ since: string | number }>(db,
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::bigint AS since FROM pg_control_checkpoint()',
  );
  const since = Number(row?.since ?? 0);
  if (since < walBytes) return false;
  const ms = await whenQuietTimed(db, 'CHECKPOINT', quiet);
  log.debug({ walBytes: since, ms }, 'embedded database: checkpoint');
  return true;
}

/** One round of the embedded database's upkeep: vacuum what is due, then a checkpoint if one is due. */
export async function maintainEmbedded(db: Database, log: Logger): Promise<void> {
  await vacuumEmbedded(db, log);
  await checkpointEmbedded(db, log);
}
