import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import { col, Database, unnestRows } from '@linan/platform';
import type { Channel, RecipientKind } from '../domain/recipients';
import { DispatchRepository, type Dispatch, type DispatchStatus } from '../application/ports/dispatch.repository';
import { DispatchOrmEntity } from './dispatch.orm-entity';

const toDispatch = (e: DispatchOrmEntity): Dispatch => ({
  ...e, recipientKind: e.recipientKind as RecipientKind, channel: e.channel as Channel, status: e.status as DispatchStatus,
  createdAt: new Date(e.createdAt).getTime(), updatedAt: new Date(e.updatedAt).getTime(),
});

const dcol = col<Dispatch>;
const DISPATCH_COLUMNS = [
  dcol('id', 'uuid', (d) => d.id), dcol('alert_id', 'uuid', (d) => d.alertId), dcol('round', 'int', (d) => d.round),
  dcol('recipient_kind', 'text', (d) => d.recipientKind), dcol('recipient_id', 'text', (d) => d.recipientId),
  dcol('recipient_name', 'text', (d) => d.recipientName), dcol('channel', 'text', (d) => d.channel),
  dcol('status', 'text', (d) => d.status), dcol('attempts', 'int', (d) => d.attempts), dcol('body', 'text', (d) => d.body),
  dcol('destination', 'text', (d) => d.destination), dcol('context', 'jsonb', (d) => JSON.stringify(d.context)),
  dcol('created_at', 'timestamptz', (d) => new Date(d.createdAt)), dcol('updated_at', 'timestamptz', (d) => new Date(d.updatedAt)),
];

@Injectable()
export class TypeOrmDispatchRepository extends DispatchRepository {
  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(DispatchOrmEntity);
  }
  async insertMissing(rows: Dispatch[]): Promise<Dispatch[]> {
    if (!rows.length) return [];
    const key = (d: { alertId: string; round: number; recipientKind: string; recipientId: string; channel: string }) =>
      `${d.alertId}/${d.round}/${d.recipientKind}/${d.recipientId}/${d.channel}`;
    const v = unnestRows(rows, DISPATCH_COLUMNS);
    const inserted = await this.db.query<{ id: string }>(
      `INSERT INTO dispatches (${DISPATCH_COLUMNS.map((c) => c.name).join(', ')})
       SELECT * FROM ${v.from}
       ON CONFLICT (alert_id, round, recipient_kind, recipient_id, channel) DO NOTHING RETURNING id`,
      v.params,
    );
    if (inserted.length === rows.length) return rows;
    // a redelivered request: the rows recorded the first time are the ones that count
    const fresh = new Set(inserted.map((r) => r.id));
    const stored = new Map((await this.repo().findBy({ alertId: In([...new Set(rows.map((d) => d.alertId))]) })).map(toDispatch).map((d) => [key(d), d]));
    return rows.map((d) => (fresh.has(d.id) ? d : stored.get(key(d)) ?? d));
  }
  async saveResults(results: Dispatch[]): Promise<void> {
    if (!results.length) return;
    const v = unnestRows(results, [
      dcol('id', 'uuid', (d) => d.id), dcol('status', 'text', (d) => d.status), dcol('attempts', 'int', (d) => d.attempts),
      dcol('last_error', 'text', (d) => d.lastError), dcol('provider_ref', 'text', (d) => d.providerRef),
      dcol('updated_at', 'timestamptz', (d) => new Date(d.updatedAt)),
    ]);
    await this.db.write(
      `UPDATE dispatches AS d SET status = v.status, attempts = v.attempts, last_error = v.last_error, provider_ref = v.provider_ref, updated_at = v.updated_at
       FROM ${v.from} WHERE d.id = v.id`,
      v.params,
    );
  }
  async onRecord(alertIds: string[]): Promise<Map<string, { aideId: string; round: number }[]>> {
    const out = new Map<string, { aideId: string; round: number }[]>();
    if (!alertIds.length) return out;
    const rows = await this.db.query<{ id: string; recipient_id: string | null; round: number | null }>(
      `SELECT a.id, d.recipient_id, d.round FROM alerts a
       LEFT JOIN dispatches d ON d.alert_id = a.id AND d.recipient_kind = 'aide' WHERE a.id = ANY($1::uuid[])`, [alertIds]);
    for (const r of rows) {
      const called = out.get(r.id) ?? [];
      if (r.recipient_id !== null) called.push({ aideId: r.recipient_id, round: Number(r.round) });
      out.set(r.id, called);
    }
    return out;
  }
  async list(f: { alertId?: string; district?: string | null; limit: number }): Promise<Dispatch[]> {
    const qb = this.repo().createQueryBuilder('d').orderBy('d.created_at', 'DESC').limit(f.limit);
    if (f.alertId) qb.andWhere('d.alert_id = :alertId', { alertId: f.alertId });
    if (f.district) qb.andWhere('d.alert_id IN (SELECT a.id FROM alerts a WHERE a.district = :district)', { district: f.district });
    return (await qb.getMany()).map(toDispatch);
  }
  async claimPending(before: number, now: number, limit: number): Promise<Dispatch[]> {
    // SKIP LOCKED: a replica that is claiming rows right now keeps them; the touch keeps them out of others' sweeps.
    // The UPDATE goes in a WITH: TypeORM answers a bare UPDATE … RETURNING with [rows, count], not the rows.
    const claimed = await this.db.query<{ id: string }>(
      `WITH claimed AS (
         UPDATE dispatches SET updated_at = $2 WHERE id IN (
           SELECT id FROM dispatches WHERE status = 'pending' AND updated_at < $1 ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING id)
       SELECT id FROM claimed`,
      [new Date(before), new Date(now), limit],
    );
    if (!claimed.length) return [];
    return (await this.repo().createQueryBuilder('d').where('d.id IN (:...ids)', { ids: claimed.map((r) => r.id) })
      .orderBy('d.created_at', 'ASC').getMany()).map(toDispatch);
  }
}
