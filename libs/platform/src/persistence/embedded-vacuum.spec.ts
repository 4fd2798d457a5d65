import { databasePerTest, silentLogger } from '@linan/testing';
import { checkpointEmbedded, vacuumEmbedded } from './embedded-vacuum';

describe('vacuumEmbedded (autovacuum for PGlite, which has none)', () => {
  const opened = databasePerTest();

  // PostgreSQL publishes a session's table statistics at most once a second: ask for them now
  const flushStats = () => opened().database.query('SELECT pg_stat_force_next_flush()').then(() => opened().database.query('SELECT 1'));
  const dead = async (table: string) => Number((await opened().database.query<{ n: string | number }>(
    'SELECT n_dead_tup AS n FROM pg_stat_user_tables WHERE relname = $1', [table]))[0].n);

  it('vacuums the tables past PostgreSQL\'s threshold of dead rows, and leaves the others', async () => {
    const db = opened().database;
    await db.query("INSERT INTO bus_offsets (group_id, topic, partition, seq) SELECT 'g', 't', p, 0 FROM generate_series(0, 9) p");
    // every consumer transaction updates its offset row: 10 rows × 30 updates leave dead rows behind
    for (let i = 1; i <= 30; i++) await db.query('UPDATE bus_offsets SET seq = $1', [i]);
    await db.query("INSERT INTO settings (key, value) VALUES ('vacuum-test', '1')");
    await db.query("UPDATE settings SET value = '2' WHERE key = 'vacuum-test'");
    await flushStats();
    expect(await dead('bus_offsets')).toBeGreaterThan(52); // the threshold for 10 live rows (HOT pruning reclaims some by itself)

    const { vacuumed } = await vacuumEmbedded(db, silentLogger);

    expect(vacuumed).toContain('bus_offsets');
    expect(vacuumed).not.toContain('settings'); // one dead row: under the threshold
    await flushStats();
    expect(await dead('bus_offsets')).toBe(0);
    expect((await vacuumEmbedded(db, silentLogger)).vacuumed).toEqual([]);
  });

  it('analyzes the tables that grew or changed past PostgreSQL\'s threshold since their statistics were taken, and only those', async () => {
    const db = opened().database;
    const analyzedAt = async (table: string) => (await db.query<{ n: string | number }>(
      'SELECT analyze_count AS n FROM pg_stat_user_tables WHERE relname = $1', [table]))[0].n;
    // an insert-only table (no dead rows, so never vacuumed): 500 rows since its statistics were last taken
    await db.query("INSERT INTO settings (key, value) SELECT 'k' || i, 'v' FROM generate_series(1, 500) i");
    await db.query("INSERT INTO users (id, username, display_name, password_hash, role) VALUES (gen_random_uuid(), 'few-changes', 'x', 'x', 'operator')");
    await flushStats();
    const before = Number(await analyzedAt('settings'));

    const round = await vacuumEmbedded(db, silentLogger);

    expect(round.analyzed).toContain('settings');
    expect(round.vacuumed).not.toContain('settings');
    expect(round.analyzed).not.toContain('users'); // one change: under the threshold
    await flushStats();
    expect(Number(await analyzedAt('settings'))).toBe(before + 1);
    expect((await vacuumEmbedded(db, silentLogger)).analyzed).toEqual([]);
  });

  it('keeps dispatch\'s lookup of a few alerts by id an index lookup once the alerts have grown (without statistics, a scan of them all)', async () => {
    const db = opened().database;
    await db.query(`INSERT INTO households (id, name, phone, address, district, street, community, subsidy_category, funding)
      SELECT gen_random_uuid(), 'h' || i, '1', 'a', 'd', 's', 'c', 'dibao', 'government' FROM generate_series(1, 200) i`);
    await db.query(`INSERT INTO alerts (id, household_id, type, priority, status, district, community, opened_at, first_device_ts, policy)
      SELECT gen_random_uuid(), h.id, 'sos', 'P1', 'resolved', 'd', 'c', now(), now(), '{}' FROM households h, generate_series(1, 16)`);
    await db.query(`INSERT INTO dispatches (id, alert_id, round, recipient_kind, recipient_id, recipient_name, channel, status, body, created_at, updated_at)
      SELECT gen_random_uuid(), a.id, 0, 'aide', 'aide-' || r, 'n', 'sms', 'sent', 'b', now(), now() FROM alerts a, generate_series(1, 3) r`);
    const ids = (await db.query<{ id: string }>('SELECT id FROM alerts ORDER BY random() LIMIT 30')).map((r) => r.id);
    // the statement of DispatchRepository.onRecord, with its ids written out so EXPLAIN can plan it
    const plan = async () => (await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT a.id, d.recipient_id, d.round FROM alerts a LEFT JOIN dispatches d ON d.alert_id = a.id AND d.recipient_kind = 'aide'
       WHERE a.id = ANY('{${ids.join(',')}}'::uuid[])`)).map((r) => r['QUERY PLAN']).join('\n');
    expect(await plan()).toMatch(/Seq Scan on alerts/);
    await flushStats();

    expect((await vacuumEmbedded(db, silentLogger)).analyzed).toEqual(expect.arrayContaining(['alerts', 'dispatches']));

    expect(await plan()).not.toMatch(/Seq Scan on alerts/);
    expect(await plan()).toMatch(/alerts_pkey/);
  });

  it('vacuums only once alarm-path work has paused', async () => {
    const db = opened().database;
    await db.query("INSERT INTO bus_offsets (group_id, topic, partition, seq) SELECT 'g', 't', p, 0 FROM generate_series(0, 9) p");
    for (let i = 1; i <= 30; i++) await db.query('UPDATE bus_offsets SET seq = $1', [i]);
    await flushStats();
    let lastAlarmWork = 0;
    const busy = (async () => {
      for (const until = Date.now() + 400; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        await db.query('SELECT 1');
        lastAlarmWork = Date.now();
      }
    })();
    await new Promise((r) => setTimeout(r, 30));
    const { vacuumed } = await vacuumEmbedded(db, silentLogger, { quietMs: 150, maxWaitMs: 10_000 });
    const done = Date.now();
    await busy;
    expect(vacuumed).toContain('bus_offsets');
    expect(done - lastAlarmWork).toBeGreaterThanOrEqual(140);
  });
});

describe('checkpointEmbedded (single-user PostgreSQL has no checkpointer)', () => {
  const opened = databasePerTest();
  const walSinceCheckpoint = async () => Number((await opened().database.query<{ since: string | number }>(
    'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn)::bigint AS since FROM pg_control_checkpoint()'))[0].since);

  it('checkpoints once enough WAL has been written since the last one, and not before', async () => {
    const db = opened().database;
    await db.query("INSERT INTO settings (key, value) SELECT 'k' || i, repeat('x', 200) FROM generate_series(1, 2000) i");
    const before = await walSinceCheckpoint();
    expect(before).toBeGreaterThan(100_000);
    expect(await checkpointEmbedded(db, silentLogger, { walBytes: before * 10, quietMs: 0 })).toBe(false);
    expect(await walSinceCheckpoint()).toBeGreaterThanOrEqual(before);
    expect(await checkpointEmbedded(db, silentLogger, { walBytes: before / 2, quietMs: 0 })).toBe(true);
    expect(await walSinceCheckpoint()).toBeLessThan(before / 10);
  });

  it('does not fill new WAL segments with zeros first (fsync is off, so they buy nothing)', async () => {
    expect(await opened().database.query('SHOW wal_init_zero')).toEqual([{ wal_init_zero: 'off' }]);
  });
});
