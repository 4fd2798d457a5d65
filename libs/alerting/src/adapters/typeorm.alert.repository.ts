import { Injectable } from '@nestjs/common';
import { DUPLICATE_WINDOW_MS, type DeviceEventReceived } from '@linan/contracts';
import { col, Database, unnestRows } from '@linan/platform';
import type { Alert } from '../domain/alert';
import { AlertListFilter, AlertRepository, AlertSummary, ConcurrentEventError, DeviceEventLog, TimelineEntry } from '../application/ports/alert.repository';
import { AlertMapper } from './alert.mapper';
import { AlertLogOrmEntity, AlertOrmEntity, DeviceEventOrmEntity } from './alert.orm-entity';

/** Columns aliased to the ORM entity's property names, for the hand-written hot-path queries. */
const ALERT_COLUMNS = `id, household_id AS "householdId", device_id AS "deviceId", type, priority, status, district, community,
  opened_at AS "openedAt", first_device_ts AS "firstDeviceTs", event_count AS "eventCount", acknowledged_at AS "acknowledgedAt",
  acknowledged_by AS "acknowledgedBy", resolved_at AS "resolvedAt", resolved_by AS "resolvedBy", outcome, note, policy,
  escalation_round AS "escalationRound", escalation_due_at AS "escalationDueAt", timer_id AS "timerId"`;

const acol = col<AlertOrmEntity>;
const tcol = col<TimelineEntry>;
const ecol = col<{ eventId: string; event: DeviceEventReceived; alertId: string | null }>;
const eventKey = (deviceId: string, deviceEventId: string) => `${deviceId}/${deviceEventId}`;

const EVENT_COLUMNS = [
  ecol('id', 'uuid', (x) => x.eventId), ecol('device_id', 'uuid', (x) => x.event.deviceId), ecol('device_event_id', 'text', (x) => x.event.deviceEventId),
  ecol('household_id', 'uuid', (x) => x.event.householdId), ecol('type', 'text', (x) => x.event.type), ecol('state', 'text', (x) => x.event.state),
  ecol('device_ts', 'timestamptz', (x) => new Date(x.event.deviceTs)), ecol('received_at', 'timestamptz', (x) => new Date(x.event.receivedAt)),
  ecol('late', 'boolean', (x) => x.event.late),
  ecol('payload', 'jsonb', (x) => JSON.stringify({ serial: x.event.serial, battery: x.event.battery, signal: x.event.signal, data: x.event.data })),
  ecol('alert_id', 'uuid', (x) => x.alertId),
];

/** The columns an alert's state changes touch (everything but what is fixed when it opens). */
const ALERT_UPDATE_COLUMNS = [
  acol('id', 'uuid', (a) => a.id), acol('status', 'text', (a) => a.status), acol('event_count', 'int', (a) => a.eventCount),
  acol('acknowledged_at', 'timestamptz', (a) => a.acknowledgedAt), acol('acknowledged_by', 'text', (a) => a.acknowledgedBy),
  acol('resolved_at', 'timestamptz', (a) => a.resolvedAt), acol('resolved_by', 'text', (a) => a.resolvedBy), acol('outcome', 'text', (a) => a.outcome),
  acol('note', 'text', (a) => a.note), acol('escalation_round', 'int', (a) => a.escalationRound),
  acol('escalation_due_at', 'timestamptz', (a) => a.escalationDueAt), acol('timer_id', 'uuid', (a) => a.timerId),
];
const ALERT_INSERT_COLUMNS = [
  ...ALERT_UPDATE_COLUMNS,
  acol('household_id', 'uuid', (a) => a.householdId), acol('device_id', 'uuid', (a) => a.deviceId), acol('type', 'text', (a) => a.type),
  acol('priority', 'text', (a) => a.priority), acol('district', 'text', (a) => a.district), acol('community', 'text', (a) => a.community),
  acol('opened_at', 'timestamptz', (a) => a.openedAt), acol('first_device_ts', 'timestamptz', (a) => a.firstDeviceTs),
  acol('policy', 'jsonb', (a) => JSON.stringify(a.policy)),
];

@Injectable()
export class TypeOrmAlertRepository extends AlertRepository {
  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(AlertOrmEntity);
  }

  async findOpenForUpdate(keys: { householdId: string; type: string }[]): Promise<Alert[]> {
    if (!keys.length) return [];
    const rows = await this.db.query<AlertOrmEntity>(
      `SELECT ${ALERT_COLUMNS} FROM alerts WHERE status <> 'resolved'
         AND (household_id, type) IN (SELECT * FROM unnest($1::uuid[], $2::text[])) FOR UPDATE`,
      [keys.map((k) => k.householdId), keys.map((k) => k.type)],
    );
    return rows.map(AlertMapper.toDomain);
  }
  async lockById(id: string): Promise<Alert | null> {
    return (await this.lockByIds([id]))[0] ?? null;
  }
  async lockByIds(ids: string[]): Promise<Alert[]> {
    if (!ids.length) return [];
    const rows = await this.db.query<AlertOrmEntity>(`SELECT ${ALERT_COLUMNS} FROM alerts WHERE id = ANY($1::uuid[]) FOR UPDATE`, [ids]);
    return rows.map(AlertMapper.toDomain);
  }
  async findById(id: string): Promise<Alert | null> {
    const e = await this.repo().findOneBy({ id });
    return e ? AlertMapper.toDomain(e) : null;
  }
  async insertMany(alerts: Alert[]): Promise<void> {
    if (!alerts.length) return;
    const v = unnestRows(alerts.map((a) => AlertMapper.toOrm(a)), ALERT_INSERT_COLUMNS);
    await this.db.write(`INSERT INTO alerts (${ALERT_INSERT_COLUMNS.map((c) => c.name).join(', ')}) SELECT * FROM ${v.from}`, v.params);
  }
  async saveMany(alerts: Alert[]): Promise<void> {
    if (!alerts.length) return;
    const v = unnestRows(alerts.map((a) => AlertMapper.toOrm(a)), ALERT_UPDATE_COLUMNS);
    await this.db.write(
      `UPDATE alerts AS a SET status = v.status, event_count = v.event_count, acknowledged_at = v.acknowledged_at,
         acknowledged_by = v.acknowledged_by, resolved_at = v.resolved_at, resolved_by = v.resolved_by, outcome = v.outcome,
         note = v.note, escalation_round = v.escalation_round, escalation_due_at = v.escalation_due_at, timer_id = v.timer_id
       FROM ${v.from} WHERE a.id = v.id`,
      v.params,
    );
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
    const v = unnestRows(entries, [
      tcol('alert_id', 'uuid', (t) => t.alertId), tcol('at', 'timestamptz', (t) => new Date(t.at)), tcol('kind', 'text', (t) => t.kind),
      tcol('actor', 'text', (t) => t.actor), tcol('details', 'jsonb', (t) => JSON.stringify(t.details ?? {})),
    ]);
    await this.db.write(`INSERT INTO alert_log (alert_id, at, kind, actor, details) SELECT * FROM ${v.from}`, v.params);
  }
  async timeline(alertId: string): Promise<TimelineEntry[]> {
    // oldest first by time: an entry can be written after later ones (an event read late, after its alert escalated)
    const rows = await this.db.manager().getRepository(AlertLogOrmEntity).find({ where: { alertId }, order: { at: 'ASC', id: 'ASC' } });
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
}

@Injectable()
export class TypeOrmDeviceEventLog extends DeviceEventLog {
  constructor(private readonly db: Database) {
    super();
  }
  async newOf(events: DeviceEventReceived[]): Promise<DeviceEventReceived[]> {
    // one per device event id: a batch may carry the same event twice (a device's retransmission); the first counts
    const byKey = new Map<string, DeviceEventReceived>();
    for (const e of events) {
      const k = eventKey(e.deviceId, e.deviceEventId);
      if (!byKey.has(k)) byKey.set(k, e);
    }
    const unique = [...byKey.values()];
    if (!unique.length) return [];
    const stored = await this.db.query<{ device_id: string; device_event_id: string; received_at: Date }>(
      `SELECT device_id, device_event_id, received_at FROM device_events
       WHERE (device_id, device_event_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))`,
      [unique.map((e) => e.deviceId), unique.map((e) => e.deviceEventId)],
    );
    const firstTaken = new Map(stored.map((r) => [eventKey(r.device_id, r.device_event_id), new Date(r.received_at).getTime()]));
    return unique.filter((e) => {
      const at = firstTaken.get(eventKey(e.deviceId, e.deviceEventId));
      return at === undefined || at < e.receivedAt - DUPLICATE_WINDOW_MS;
    });
  }
  async record(events: { eventId: string; event: DeviceEventReceived; alertId: string | null }[]): Promise<void> {
    if (!events.length) return;
    const v = unnestRows(events, EVENT_COLUMNS);
    // a stored event within the window is left alone: then it was stored meanwhile by another transaction
    await this.db.write<{ id: string }>(
      `INSERT INTO device_events AS d (${EVENT_COLUMNS.map((c) => c.name).join(', ')})
       SELECT * FROM ${v.from}
       ON CONFLICT (device_id, device_event_id) DO UPDATE SET
         id = EXCLUDED.id, household_id = EXCLUDED.household_id, type = EXCLUDED.type, state = EXCLUDED.state,
         device_ts = EXCLUDED.device_ts, received_at = EXCLUDED.received_at, late = EXCLUDED.late, alert_id = EXCLUDED.alert_id,
         payload = EXCLUDED.payload
       WHERE d.received_at < EXCLUDED.received_at - make_interval(secs => ${DUPLICATE_WINDOW_MS / 1000})
       RETURNING d.id`,
      v.params,
      (rows) => {
        if (rows.length !== events.length) throw new ConcurrentEventError(events.length - rows.length);
      },
    );
  }
  async recentForHousehold(householdId: string, limit: number): Promise<Array<DeviceEventReceived & { alertId: string | null }>> {
    const rows = await this.db.manager().getRepository(DeviceEventOrmEntity).find({ where: { householdId }, order: { receivedAt: 'DESC' }, take: limit });
    // the serial is kept in the payload (events stored before it was have none)
    return rows.map((r) => ({
      deviceId: r.deviceId, serial: '', householdId: r.householdId, deviceEventId: r.deviceEventId, type: r.type as DeviceEventReceived['type'],
      state: r.state as 'alarm' | 'clear', deviceTs: new Date(r.deviceTs).getTime(), receivedAt: new Date(r.receivedAt).getTime(), late: r.late,
      alertId: r.alertId, ...(r.payload as object),
    }));
  }
}
