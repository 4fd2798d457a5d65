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
  async update(id: string, p: Pick<Dispatch, 'status' | 'attempts' | 'lastError' | 'providerRef' | 'updatedAt'>): Promise<void> {
    await this.repo().update({ id }, { status: p.status, attempts: p.attempts, lastError: p.lastError, providerRef: p.providerRef, updatedAt: new Date(p.updatedAt) });
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
