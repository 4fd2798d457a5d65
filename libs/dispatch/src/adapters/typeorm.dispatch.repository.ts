import { Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import { Database, valuesList } from '@linan/platform';
import type { Channel, RecipientKind } from '../domain/recipients';
import { DispatchRepository, type Dispatch, type DispatchStatus } from '../application/ports/dispatch.repository';
import { DispatchOrmEntity } from './dispatch.orm-entity';

const toDispatch = (e: DispatchOrmEntity): Dispatch => ({
  ...e, recipientKind: e.recipientKind as RecipientKind, channel: e.channel as Channel, status: e.status as DispatchStatus,
  createdAt: new Date(e.createdAt).getTime(), updatedAt: new Date(e.updatedAt).getTime(),
});

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
    const casts = ['::uuid', '::uuid', '::int', '', '', '', '', '', '::int', '', '::text', '::jsonb', '::timestamptz', '::timestamptz'];
    const inserted = await this.db.query<{ id: string }>(
      `INSERT INTO dispatches (id, alert_id, round, recipient_kind, recipient_id, recipient_name, channel, status, attempts, body, destination, context, created_at, updated_at)
       VALUES ${valuesList(rows.length, casts)}
       ON CONFLICT (alert_id, round, recipient_kind, recipient_id, channel) DO NOTHING RETURNING id`,
      rows.flatMap((d) => [d.id, d.alertId, d.round, d.recipientKind, d.recipientId, d.recipientName, d.channel, d.status, d.attempts, d.body,
        d.destination, JSON.stringify(d.context), new Date(d.createdAt), new Date(d.updatedAt)]),
    );
    if (inserted.length === rows.length) return rows;
    // a redelivered request: the rows recorded the first time are the ones that count
    const fresh = new Set(inserted.map((r) => r.id));
    const stored = new Map((await this.repo().findBy({ alertId: In([...new Set(rows.map((d) => d.alertId))]) })).map(toDispatch).map((d) => [key(d), d]));
    return rows.map((d) => (fresh.has(d.id) ? d : stored.get(key(d)) ?? d));
  }
  async saveResults(results: Dispatch[]): Promise<void> {
    if (!results.length) return;
    await this.db.query(
      `UPDATE dispatches AS d SET status = v.status, attempts = v.attempts, last_error = v.last_error, provider_ref = v.provider_ref, updated_at = v.updated_at
       FROM (VALUES ${valuesList(results.length, ['::uuid', '::text', '::int', '::text', '::text', '::timestamptz'])}) AS v (id, status, attempts, last_error, provider_ref, updated_at) WHERE d.id = v.id`,
      results.flatMap((d) => [d.id, d.status, d.attempts, d.lastError, d.providerRef, new Date(d.updatedAt)]),
    );
  }
  async calledAides(alertIds: string[]): Promise<Map<string, { aideId: string; round: number }[]>> {
    const out = new Map<string, { aideId: string; round: number }[]>();
    if (!alertIds.length) return out;
    const rows = await this.db.query<{ alert_id: string; recipient_id: string; round: number }>(
      "SELECT alert_id, recipient_id, round FROM dispatches WHERE alert_id = ANY($1::uuid[]) AND recipient_kind = 'aide'", [alertIds]);
    for (const r of rows) out.set(r.alert_id, [...(out.get(r.alert_id) ?? []), { aideId: r.recipient_id, round: Number(r.round) }]);
    return out;
  }
  async list(f: { alertId?: string; district?: string | null; limit: number }): Promise<Dispatch[]> {
    const qb = this.repo().createQueryBuilder('d').orderBy('d.created_at', 'DESC').limit(f.limit);
    if (f.alertId) qb.andWhere('d.alert_id = :alertId', { alertId: f.alertId });
    if (f.district) qb.andWhere('d.alert_id IN (SELECT a.id FROM alerts a WHERE a.district = :district)', { district: f.district });
    return (await qb.getMany()).map(toDispatch);
  }
  async claimPending(before: number, now: number, limit: number): Promise<Dispatch[]> {
    // SKIP LOCKED: a replica that is claiming rows right now keeps them; the touch keeps them out of others' sweeps
    const claimed = await this.db.query<{ id: string }>(
      `UPDATE dispatches SET updated_at = $2 WHERE id IN (
         SELECT id FROM dispatches WHERE status = 'pending' AND updated_at < $1 ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [new Date(before), new Date(now), limit],
    );
    if (!claimed.length) return [];
    return (await this.repo().createQueryBuilder('d').where('d.id IN (:...ids)', { ids: claimed.map((r) => r.id) })
      .orderBy('d.created_at', 'ASC').getMany()).map(toDispatch);
  }
}
