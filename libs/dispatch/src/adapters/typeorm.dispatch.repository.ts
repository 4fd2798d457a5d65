import { Injectable } from '@nestjs/common';
import { Database } from '@linan/platform';
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
    await this.repo().createQueryBuilder().insert().values(rows.map((d) => ({
      ...d, context: d.context as never, createdAt: new Date(d.createdAt), updatedAt: new Date(d.updatedAt),
    }))).orIgnore().execute();
    const { alertId, round } = rows[0];
    const wanted = new Set(rows.map((d) => `${d.recipientKind}/${d.recipientId}/${d.channel}`));
    return (await this.repo().findBy({ alertId, round })).map(toDispatch).filter((d) => wanted.has(`${d.recipientKind}/${d.recipientId}/${d.channel}`));
  }
  async saveResults(results: Dispatch[]): Promise<void> {
    if (!results.length) return;
    const params: unknown[] = [];
    const rows = results.map((d, i) => {
      params.push(d.id, d.status, d.attempts, d.lastError, d.providerRef, new Date(d.updatedAt));
      const b = i * 6;
      return `($${b + 1}::uuid, $${b + 2}::text, $${b + 3}::int, $${b + 4}::text, $${b + 5}::text, $${b + 6}::timestamptz)`;
    });
    await this.db.query(
      `UPDATE dispatches AS d SET status = v.status, attempts = v.attempts, last_error = v.last_error, provider_ref = v.provider_ref, updated_at = v.updated_at
       FROM (VALUES ${rows.join(', ')}) AS v (id, status, attempts, last_error, provider_ref, updated_at) WHERE d.id = v.id`,
      params,
    );
  }
  async calledAides(alertId: string): Promise<Set<string>> {
    const rows = await this.repo().find({ select: { recipientId: true }, where: { alertId, recipientKind: 'aide' } });
    return new Set(rows.map((r) => r.recipientId));
  }
  async list(f: { alertId?: string; district?: string | null; limit: number }): Promise<Dispatch[]> {
    const qb = this.repo().createQueryBuilder('d').orderBy('d.created_at', 'DESC').limit(f.limit);
    if (f.alertId) qb.andWhere('d.alert_id = :alertId', { alertId: f.alertId });
    if (f.district) qb.andWhere('d.alert_id IN (SELECT a.id FROM alerts a WHERE a.district = :district)', { district: f.district });
    return (await qb.getMany()).map(toDispatch);
  }
  async pendingOlderThan(before: number, limit: number): Promise<Dispatch[]> {
    return (await this.repo().createQueryBuilder('d').where("d.status = 'pending' AND d.created_at < :before", { before: new Date(before) })
      .orderBy('d.created_at', 'ASC').limit(limit).getMany()).map(toDispatch);
  }
  async hasSent(alertId: string): Promise<boolean> {
    return (await this.repo().countBy({ alertId, status: 'sent' })) > 0;
  }
}
