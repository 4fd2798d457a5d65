import { col, selectList, unnestRows } from './sql';

interface Row { id: string; name: string | null; at: Date | null; data: object; n: number }

describe('unnestRows', () => {
  const columns = [
    col<Row>('id', 'uuid', (r) => r.id), col<Row>('name', 'text', (r) => r.name), col<Row>('at', 'timestamptz', (r) => r.at),
    col<Row>('data', 'jsonb', (r) => JSON.stringify(r.data)), col<Row>('n', 'int', (r) => r.n),
  ];

  it('numbers its placeholders from `first`, one array per column, dates as ISO text', () => {
    const at = new Date('2026-12-06T05:00:00.123Z');
    const v = unnestRows([{ id: 'a', name: null, at, data: {}, n: 1 }], columns, 3);
    expect(v.from).toBe('unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::int[]) AS v (id, name, at, data, n)');
    expect(v.params).toEqual([['a'], [null], ['2026-12-06T05:00:00.123Z'], ['{}'], [1]]);
  });
});

describe('selectList', () => {
  const metadata = { columns: [
    { databaseName: 'id', propertyName: 'id' }, { databaseName: 'household_id', propertyName: 'householdId' },
    { databaseName: 'last_seen_at', propertyName: 'lastSeenAt' },
  ] };

  it('names each column as its property, quoted, and leaves out what is omitted', () => {
    expect(selectList(metadata)).toBe('"id", "household_id" AS "householdId", "last_seen_at" AS "lastSeenAt"');
    expect(selectList(metadata, ['lastSeenAt'])).toBe('"id", "household_id" AS "householdId"');
  });
});
