import { randomUUID } from 'node:crypto';
import type { OpenedDatabase } from '@linan/platform';
import { openTestDatabase } from '../../../testing/src/test-platform';
import { createTestDatabase, postgresAvailable, type TestDatabase } from '../../../testing/src/services/postgres';
import type { Dispatch } from '../application/ports/dispatch.repository';
import { DispatchOrmEntity } from './dispatch.orm-entity';
import { TypeOrmDispatchRepository } from './typeorm.dispatch.repository';

const available = postgresAvailable();

/** An alert (and its household) for the dispatches to belong to. */
async function seedAlert(opened: OpenedDatabase): Promise<string> {
  const [householdId, alertId] = [randomUUID(), randomUUID()];
  await opened.database.query(
    `INSERT INTO households (id, name, phone, address, district, street, community, subsidy_category, funding)
     VALUES ($1, '住户', '13800000000', '一号', '思明区', '鹭江街道', '鹭江社区', 'elderly', 'government')`, [householdId]);
  await opened.database.query(
    `INSERT INTO alerts (id, household_id, type, priority, status, district, community, opened_at, first_device_ts, policy)
     VALUES ($1, $2, 'sos', 'P1', 'open', '思明区', '鹭江社区', now(), now(), '{}')`, [alertId, householdId]);
  return alertId;
}

const dispatch = (alertId: string, recipientId: string, createdAt: number, status: Dispatch['status'] = 'pending'): Dispatch => ({
  id: randomUUID(), alertId, round: 0, recipientKind: 'family', recipientId, recipientName: '家属', channel: 'sms', status, attempts: 0,
  lastError: null, providerRef: null, destination: '13900000000', body: '求助', createdAt, updatedAt: createdAt,
  context: { householdId: 'h', householdName: '住户', district: '思明区', community: '鹭江社区', priority: 'P1', type: 'sos', reason: 'opened', deviceTs: createdAt },
});

describe.each(['embedded', 'PostgreSQL'])('TypeOrmDispatchRepository on the %s database', (kind) => {
  let pg: TestDatabase | undefined;
  let opened: OpenedDatabase;
  let repo: TypeOrmDispatchRepository;

  beforeAll(async () => {
    if (kind === 'PostgreSQL') {
      if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for these tests');
      pg = await createTestDatabase();
    }
    opened = await openTestDatabase(pg ? { DATABASE_URL: pg.url } : {}, [DispatchOrmEntity]);
    repo = new TypeOrmDispatchRepository(opened.database);
  });
  afterAll(async () => {
    await opened?.close();
    await pg?.drop();
  });

  it('claims (for the sweeper) pending dispatches older than the grace, oldest first, touching them so the next sweep leaves them alone', async () => {
    const alertId = await seedAlert(opened);
    const now = Date.now();
    const [old1, old2, fresh, sent] = [
      dispatch(alertId, 'a', now - 60_000), dispatch(alertId, 'b', now - 30_000), dispatch(alertId, 'c', now - 1_000), dispatch(alertId, 'd', now - 90_000, 'sent'),
    ];
    await repo.insertMissing([fresh, old2, sent, old1]);

    const claimed = await repo.claimPending(now - 10_000, now, 10);
    expect(claimed.map((d) => d.recipientId)).toEqual(['a', 'b']);
    expect(claimed.every((d) => d.status === 'pending' && d.updatedAt === now)).toBe(true);
    // touched: not claimed again by a sweep within the grace
    expect(await repo.claimPending(now - 10_000, now + 1_000, 10)).toEqual([]);
    // once sent and stored, never claimed again
    await repo.saveResults(claimed.map((d) => ({ ...d, status: 'sent', attempts: 1, providerRef: `ref-${d.recipientId}`, updatedAt: now + 2_000 })));
    expect(await repo.claimPending(now + 60_000, now + 60_000, 10)).toEqual([expect.objectContaining({ recipientId: 'c' })]);
  });

  it('records a redelivered request\'s dispatches once: the rows stored the first time are the ones returned', async () => {
    const alertId = await seedAlert(opened);
    const now = Date.now();
    const first = [dispatch(alertId, 'p', now), dispatch(alertId, 'q', now)];
    expect(await repo.insertMissing(first)).toEqual(first);
    await repo.saveResults([{ ...first[0], status: 'sent', attempts: 1, providerRef: 'ref-p', updatedAt: now + 1 }]);

    // the same request again (new ids, as a redelivery computes them afresh), plus one recipient more
    const again = [dispatch(alertId, 'p', now + 5), dispatch(alertId, 'q', now + 5), dispatch(alertId, 'r', now + 5)];
    const stored = await repo.insertMissing(again);
    expect(stored.map((d) => [d.recipientId, d.id, d.status])).toEqual([
      ['p', first[0].id, 'sent'], ['q', first[1].id, 'pending'], ['r', again[2].id, 'pending'],
    ]);
    expect((await repo.list({ alertId, limit: 10 })).map((d) => d.recipientId).sort()).toEqual(['p', 'q', 'r']);
  });

  it('lists the aides already called about each alert, with their round (families and other alerts left out)', async () => {
    const [alertId, other] = [await seedAlert(opened), await seedAlert(opened)];
    const now = Date.now();
    const aide = (a: string, id: string, round: number) => ({ ...dispatch(a, id, now), recipientKind: 'aide' as const, round });
    await repo.insertMissing([aide(alertId, 'aide-1', 0), aide(alertId, 'aide-2', 1), dispatch(alertId, 'family-1', now), aide(other, 'aide-3', 0)]);
    const called = await repo.onRecord([alertId]);
    expect([...called.keys()]).toEqual([alertId]);
    expect(called.get(alertId)!.sort((x, y) => x.round - y.round)).toEqual([{ aideId: 'aide-1', round: 0 }, { aideId: 'aide-2', round: 1 }]);
    expect(await repo.onRecord([])).toEqual(new Map());
  });

  it('tells which alerts are on record: one with no aide called yet has an empty list, one the database lacks is left out', async () => {
    const [called, quiet, missing] = [await seedAlert(opened), await seedAlert(opened), randomUUID()];
    await repo.insertMissing([{ ...dispatch(called, 'aide-9', Date.now()), recipientKind: 'aide' }]);
    const found = await repo.onRecord([called, quiet, missing]);
    expect(Object.fromEntries(found)).toEqual({ [called]: [{ aideId: 'aide-9', round: 0 }], [quiet]: [] });
  });

  it('claims no more than the limit', async () => {
    const alertId = await seedAlert(opened);
    const now = Date.now();
    await repo.insertMissing(['x', 'y', 'z'].map((r, i) => dispatch(alertId, r, now - 60_000 + i)));
    expect((await repo.claimPending(now - 10_000, now, 2)).map((d) => d.recipientId)).toEqual(['x', 'y']);
  });
});

describe('TypeOrmDispatchRepository.claimPending on PostgreSQL, two replicas sweeping at once', () => {
  let pg: TestDatabase;
  let a: OpenedDatabase;
  let b: OpenedDatabase;

  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for these tests');
    pg = await createTestDatabase();
    a = await openTestDatabase({ DATABASE_URL: pg.url }, [DispatchOrmEntity]);
    b = await openTestDatabase({ DATABASE_URL: pg.url }, [DispatchOrmEntity]);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await pg?.drop();
  });

  it('gives each pending dispatch to one of them only', async () => {
    const alertId = await seedAlert(a);
    const now = Date.now();
    const rows = Array.from({ length: 60 }, (_, i) => dispatch(alertId, `r${i}`, now - 60_000 + i));
    const [ra, rb] = [new TypeOrmDispatchRepository(a.database), new TypeOrmDispatchRepository(b.database)];
    await ra.insertMissing(rows);
    const claims = await Promise.all([ra, rb, ra, rb].map((r) => r.claimPending(now - 10_000, now, 20)));
    const ids = claims.flat().map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(60);
  });
});
