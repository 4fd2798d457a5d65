import { Injectable } from '@nestjs/common';
import { DUPLICATE_WINDOW_MS, type DeviceEventReceived } from '@linan/contracts';
import { Database } from '@linan/platform';
import type { AlertStatus, Alert } from '../domain/alert';
import { AlertListFilter, AlertRepository, AlertSummary, DeviceEventLog, TimelineEntry } from '../application/ports/alert.repository';
import { AlertMapper } from './alert.mapper';
import { AlertLogOrmEntity, AlertOrmEntity, DeviceEventOrmEntity } from './alert.orm-entity';

@Injectable()
export class TypeOrmAlertRepository extends AlertRepository {
  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(AlertOrmEntity);
  }

  async findOpenForUpdate(householdId: string, type: string): Promise<Alert | null> {
    const e = await this.repo().createQueryBuilder('a').setLock('pessimistic_write')
      .where("a.household_id = :householdId AND a.type = :type AND a.status <> 'resolved'", { householdId, type }).getOne();
    return e ? AlertMapper.toDomain(e) : null;
  }
  async lockById(id: string): Promise<Alert | null> {
    const e = await this.repo().createQueryBuilder('a').setLock('pessimistic_write').where('a.id = :id', { id }).getOne();
    return e ? AlertMapper.toDomain(e) : null;
  }
  async findById(id: string): Promise<Alert | null> {
    const e = await this.repo().findOneBy({ id });
    return e ? AlertMapper.toDomain(e) : null;
  }
  async insert(a: Alert): Promise<void> {
    await this.repo().insert(AlertMapper.toOrm(a) as never);
  }
  async save(a: Alert): Promise<void> {
    const { id, ...rest } = AlertMapper.toOrm(a);
    await this.repo().update({ id }, rest as never);
  }
  async dueTimers(now: number, limit: number): Promise<{ id: string; timerId: string }[]> {
    const rows = await this.db.query<{ id: string; timer_id: string }>(
      `SELECT id, timer_id FROM alerts WHERE escalation_due_at <= $1 AND timer_id IS NOT NULL
       ORDER BY escalation_due_at LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [new Date(now), limit],
    );
    return rows.map((r) => ({ id: r.id, timerId: r.timer_id }));
  }
  async appendTimeline(entries: TimelineEntry[]): Promise<void> {
    if (!entries.length) return;
    await this.db.manager().getRepository(AlertLogOrmEntity).insert(entries.map((t) => ({
      alertId: t.alertId, at: new Date(t.at), kind: t.kind, actor: t.actor, details: (t.details ?? {}) as never,
    })));
  }
  async timeline(alertId: string): Promise<TimelineEntry[]> {
    const rows = await this.db.manager().getRepository(AlertLogOrmEntity).find({ where: { alertId }, order: { id: 'ASC' } });
    return rows.map((r) => ({ alertId: r.alertId, at: new Date(r.at).getTime(), kind: r.kind, actor: r.actor, details: r.details }));
  }
  async list(f: AlertListFilter): Promise<AlertSummary[]> {
    const qb = this.repo().createQueryBuilder('a')
      .innerJoin('households', 'h', 'h.id = a.household_id')
      .addSelect(['h.name AS h_name', 'h.address AS h_address'])
      .orderBy('a.priority', 'ASC').addOrderBy('a.opened_at', 'ASC').limit(f.limit);
    if (f.status === 'open') qb.andWhere("a.status <> 'resolved'");
    if (f.status === 'closed') qb.andWhere("a.status = 'resolved'");
    if (f.householdId) qb.andWhere('a.household_id = :hid', { hid: f.householdId });
    if (f.district) qb.andWhere('a.district = :district', { district: f.district });
    const { entities, raw } = await qb.getRawAndEntities<{ h_name: string; h_address: string }>();
    return entities.map((e, i) => ({ ...AlertMapper.toDomain(e), householdName: raw[i].h_name, address: raw[i].h_address }));
  }
  async statusCounts(): Promise<Record<AlertStatus, number>> {
    const rows = await this.db.query<{ status: AlertStatus; n: string | number }>('SELECT status, count(*) AS n FROM alerts GROUP BY status');
    const out: Record<AlertStatus, number> = { open: 0, dispatched: 0, escalated: 0, acknowledged: 0, resolved: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }
}

@Injectable()
export class TypeOrmDeviceEventLog extends DeviceEventLog {
  constructor(private readonly db: Database) {
    super();
  }
  async recordOnce(eventId: string, e: DeviceEventReceived, alertId: string | null): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO device_events (id, device_id, device_event_id, household_id, type, state, device_ts, received_at, late, alert_id, payload)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)
       ON CONFLICT (device_id, device_event_id) DO UPDATE SET
         id = EXCLUDED.id, household_id = EXCLUDED.household_id, type = EXCLUDED.type, state = EXCLUDED.state,
         device_ts = EXCLUDED.device_ts, received_at = EXCLUDED.received_at, late = EXCLUDED.late, alert_id = EXCLUDED.alert_id,
         payload = EXCLUDED.payload
       WHERE device_events.received_at < $12
       RETURNING id`,
      [eventId, e.deviceId, e.deviceEventId, e.householdId, e.type, e.state, new Date(e.deviceTs), new Date(e.receivedAt), e.late, alertId,
        JSON.stringify({ battery: e.battery, signal: e.signal, data: e.data }), new Date(e.receivedAt - DUPLICATE_WINDOW_MS)],
    );
    return rows.length === 1;
  }
  async recentForHousehold(householdId: string, limit: number): Promise<Array<DeviceEventReceived & { alertId: string | null }>> {
    const rows = await this.db.manager().getRepository(DeviceEventOrmEntity).find({ where: { householdId }, order: { receivedAt: 'DESC' }, take: limit });
    return rows.map((r) => ({
      deviceId: r.deviceId, serial: '', householdId: r.householdId, deviceEventId: r.deviceEventId, type: r.type as DeviceEventReceived['type'],
      state: r.state as 'alarm' | 'clear', deviceTs: new Date(r.deviceTs).getTime(), receivedAt: new Date(r.receivedAt).getTime(), late: r.late,
      alertId: r.alertId, ...(r.payload as object),
    }));
  }
}
