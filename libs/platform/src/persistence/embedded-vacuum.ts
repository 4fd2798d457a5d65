import type { Logger } from 'pino';
import { Database, QUIET_MAX_WAIT_MS, QUIET_MS } from './database';

/** How often the embedded database is checked for tables that need vacuuming. */
export const VACUUM_CHECK_EVERY_MS = 30_000;

/**
 * PostgreSQL's own thresholds for autovacuum (autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × live
 * rows): a table is vacuumed once it holds more dead rows than this.
 */
const deadRowsAllowed = (live: number) => 50 + 0.2 * live;

/**
 * Autovacuum for the embedded database. PGlite runs PostgreSQL in single-user mode, where autovacuum's background
 * workers do not exist, so every update and delete (alerts moving through their states, dispatch results, the bus's
 * offsets and retention, device presence) leaves dead rows that nothing reclaims: tables and their indexes grow and
 * statements slow down the longer the platform runs. This does what autovacuum would: it reads the dead-row counts
 * and vacuums (and analyzes) each table past PostgreSQL's default threshold, one table at a time, as background work.
 * A table's vacuum holds the one connection for up to a few hundred milliseconds and cannot be interrupted, so each
 * waits for a quiet moment (`Database.quiet`: no alarm-path work for a second, or ten minutes at most under
 * sustained load). Returns the tables it vacuumed.
 */
export async function vacuumEmbedded(
  db: Database, log: Logger, { quietMs = QUIET_MS, maxWaitMs = QUIET_MAX_WAIT_MS }: { quietMs?: number; maxWaitMs?: number } = {},
): Promise<string[]> {
  const run = <T>(fn: () => Promise<T>) => db.outside(() => db.background(fn));
  const rows = await run(() => db.query<{ relname: string; live: string | number; dead: string | number }>(
    "SELECT relname, n_live_tup AS live, n_dead_tup AS dead FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY n_dead_tup DESC",
  ));
  const due = rows.filter((r) => Number(r.dead) > deadRowsAllowed(Number(r.live))).map((r) => r.relname);
  for (const table of due) {
    await db.quiet(quietMs, maxWaitMs);
    const started = Date.now();
    // a table name from the catalogue, quoted as an identifier
    await run(() => db.query(`VACUUM (ANALYZE) "${table.replace(/"/g, '""')}"`));
    log.debug({ table, ms: Date.now() - started }, 'embedded database: table vacuumed');
  }
  return due;
}

/** WAL written since the last checkpoint after which the embedded database takes one at its next quiet moment. */
export const CHECKPOINT_AFTER_WAL_BYTES = 64 * 1024 * 1024;

/**
 * Checkpoints for the embedded database. Single-user PostgreSQL has no checkpointer process: left alone it takes a
 * checkpoint only when the WAL reaches max_wal_size (1 GiB), in the middle of whatever runs then, and a crash before
 * that means replaying up to 1 GiB of WAL at the next start. So once `walBytes` of WAL have been written since the
 * last checkpoint, this takes one at a quiet moment (`Database.quiet`), which also lets PostgreSQL recycle the old
 * WAL segments. Returns whether it checkpointed.
 */
export async function checkpointEmbedded(
  db: Database, log: Logger,
  { walBytes = CHECKPOINT_AFTER_WAL_BYTES, quietMs = QUIET_MS, maxWaitMs = QUIET_MAX_WAIT_MS }: { walBytes?: number; quietMs?: number; maxWaitMs?: number } = {},
): Promise<boolean> {
  const run = <T>(fn: () => Promise<T>) => db.outside(() => db.background(fn));
  const [row] = await run(() => db.query<{ since: string | number }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::bigint AS since FROM pg_control_checkpoint()',
  ));
  const since = Number(row?.since ?? 0);
  if (since < walBytes) return false;
  await db.quiet(quietMs, maxWaitMs);
  const started = Date.now();
  await run(() => db.query('CHECKPOINT'));
  log.debug({ walBytes: since, ms: Date.now() - started }, 'embedded database: checkpoint');
  return true;
}
