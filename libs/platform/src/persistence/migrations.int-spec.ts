import { DataSource } from 'typeorm';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import { decodeOutboxBatch } from '../messaging/kafka-bus';
import { MIGRATIONS } from './migrations';

const available = postgresAvailable();

/** Schema changes that carry data: upgraded with rows in place, and back. */
describe('migrations (PostgreSQL)', () => {
  let db: TestDatabase;
  const sources: DataSource[] = [];
  const open = async (migrations: (typeof MIGRATIONS)[number][]) => {
    const ds = new DataSource({ type: 'postgres', url: db.url, migrations, entities: [], synchronize: false, logging: false });
    await ds.initialize();
    sources.push(ds);
    return ds;
  };

  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for the migration tests');
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.destroy()));
    await db?.drop();
  });

  it('OutboxBatches moves rows left in the old outbox over as batches of one, in order, and back again', async () => {
    const before = await open(MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'OutboxBatches1765000000000')));
    await before.runMigrations({ transaction: 'all' });
    await before.query(`INSERT INTO outbox (topic, key, value, headers) VALUES
      ('triage.dispatch-requests.v1', 'hh-1', '{"eventId":"e-1"}', '{"eventId":"e-1"}'), ('alerting.alert-changes.v1', 'hh-1', 'v"2', '{}')`);

    const after = await open(MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'OutboxBatches1765000000000') + 1));
    await after.runMigrations({ transaction: 'all' });
    expect(await after.query(`SELECT to_regclass('outbox') AS t`)).toEqual([{ t: null }]);
    const rows: { messages: string }[] = await after.query('SELECT messages FROM outbox_batches ORDER BY id');
    expect(rows.map((r) => decodeOutboxBatch(r.messages))).toEqual([
      [{ topic: 'triage.dispatch-requests.v1', message: { key: 'hh-1', value: '{"eventId":"e-1"}', headers: { eventId: 'e-1' } } }],
      [{ topic: 'alerting.alert-changes.v1', message: { key: 'hh-1', value: 'v"2', headers: {} } }],
    ]);
    const [{ compression }] = await after.query(`SELECT attcompression AS compression FROM pg_attribute WHERE attrelid = 'outbox_batches'::regclass AND attname = 'messages'`);
    const [{ lz4 }] = await after.query(`SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`);
    expect(compression).toBe(lz4 ? 'l' : '');

    await after.undoLastMigration({ transaction: 'all' });
    expect(await after.query('SELECT topic, key, value, headers FROM outbox ORDER BY id')).toEqual([
      { topic: 'triage.dispatch-requests.v1', key: 'hh-1', value: '{"eventId":"e-1"}', headers: { eventId: 'e-1' } },
      { topic: 'alerting.alert-changes.v1', key: 'hh-1', value: 'v"2', headers: {} },
    ]);
  });

  it('BusOffsetsLog keeps every stored offset, with no cluster on record, and back again', async () => {
    const before = await open(MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'BusOffsetsLog1766000000000')));
    await before.runMigrations({ transaction: 'all' });
    await before.query(`INSERT INTO bus_offsets (group_id, topic, partition, seq) VALUES ('triage', 'gateway.device-events.v1', 2, 41)`);

    const after = await open(MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'BusOffsetsLog1766000000000') + 1));
    await after.runMigrations({ transaction: 'all' });
    expect(await after.query('SELECT group_id, topic, partition, seq, log_id FROM bus_offsets')).toEqual([
      { group_id: 'triage', topic: 'gateway.device-events.v1', partition: 2, seq: '41', log_id: null },
    ]);

    await after.undoLastMigration({ transaction: 'all' });
    expect(await after.query('SELECT * FROM bus_offsets')).toEqual([{ group_id: 'triage', topic: 'gateway.device-events.v1', partition: 2, seq: '41' }]);
  });

  it('BusOffsetsDigest keeps every stored offset and its cluster, with no digest on record, and back again', async () => {
    const before = await open(MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.name === 'BusOffsetsDigest1767000000000')));
    await before.runMigrations({ transaction: 'all' });
    await before.query('DELETE FROM bus_offsets');
    await before.query(`INSERT INTO bus_offsets (group_id, topic, partition, seq, log_id) VALUES ('dispatch', 'triage.dispatch-requests.v1', 1, 7, 'cluster-a')`);

    const after = await open(MIGRATIONS);
    await after.runMigrations({ transaction: 'all' });
    expect(await after.query('SELECT * FROM bus_offsets')).toEqual([
      { group_id: 'dispatch', topic: 'triage.dispatch-requests.v1', partition: 1, seq: '7', log_id: 'cluster-a', last_digest: null },
    ]);

    await after.undoLastMigration({ transaction: 'all' });
    expect(await after.query('SELECT * FROM bus_offsets')).toEqual([
      { group_id: 'dispatch', topic: 'triage.dispatch-requests.v1', partition: 1, seq: '7', log_id: 'cluster-a' },
    ]);
  });
});
