import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Topics, type DeviceEventReceived, type Envelope } from '@linan/contracts';
import { AppConfig, Clock, Metrics, Outbox, PermanentMessageError, UnitOfWork, envelope } from '@linan/platform';
import { HouseholdRepository } from '@linan/people';
import { alertTypeOf, triage, type Alert } from '../domain/alert';
import type { OutgoingMessage } from '@linan/platform';
import { AlertRepository, DeviceEventLog, type TimelineEntry } from './ports/alert.repository';
import { alertChanged } from './alert-changed';

export type TriageOutcome = 'duplicate' | 'recorded' | 'opened' | 'attached';

/**
 * Turns accepted device events into alert state, idempotently by the device's event id: opens an alert with its
 * priority and escalation clock, or attaches the event to the household's open alert of that type. Works on a
 * batch (the waiting messages of the consumer's partitions) with a fixed number of statements; the alerts, their timeline and the
 * dispatch requests commit together (outbox).
 */
@Injectable()
export class HandleDeviceEventUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly events: DeviceEventLog,
    private readonly households: HouseholdRepository,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {}

  async execute(msg: Envelope<DeviceEventReceived>, replayed = false): Promise<TriageOutcome> {
    return (await this.executeBatch([msg], replayed ? new Set([msg]) : undefined))[0];
  }

  /**
   * `replayed`: the events applied again because the database lost them (the consumer says which); their timeline
   * entries say so, so that operators can tell an alarm raised again after a restore from a new one.
   */
  executeBatch(msgs: Envelope<DeviceEventReceived>[], replayed: ReadonlySet<Envelope<DeviceEventReceived>> = new Set()): Promise<TriageOutcome[]> {
    return this.uow.run(async () => {
      const now = this.clock.now();
      const fresh = new Set(await this.events.newOf(msgs.map((m) => m.payload)));
      const keyOf = (e: DeviceEventReceived) => `${e.householdId}/${alertTypeOf(e.type)}`;
      const keys = [...new Map([...fresh].map((e) => [keyOf(e), { householdId: e.householdId, type: alertTypeOf(e.type) }])).values()];
      const open = new Map((await this.alerts.findOpenForUpdate(keys)).map((a) => [`${a.householdId}/${a.type}`, a]));
      const homeIds = [...new Set([...fresh].filter((e) => !open.has(keyOf(e))).map((e) => e.householdId))];
      const homes = new Map((await this.households.findByIds(homeIds)).map((h) => [h.id, h]));
      const policy = { ackTimeoutMs: this.config.escalation.ackTimeoutMs, maxAideRounds: this.config.escalation.maxRounds };

      const opened = new Map<string, Alert>();
      const changed = new Map<string, Alert>();
      const timeline: TimelineEntry[] = [];
      const stored: { eventId: string; event: DeviceEventReceived; alertId: string | null }[] = [];
      const requests: OutgoingMessage[] = [];
      const changes: OutgoingMessage[] = [];
      const outcomes: TriageOutcome[] = [];

      for (const msg of msgs) {
        const e = msg.payload;
        if (!fresh.has(e)) {
          outcomes.push('duplicate');
          continue;
        }
        const received = {
          at: e.receivedAt, kind: 'event_received', actor: `device:${e.serial}`,
          details: {
            deviceEventId: e.deviceEventId, type: e.type, state: e.state, deviceTs: e.deviceTs, late: e.late, battery: e.battery,
            ...(replayed.has(msg) ? { replayed: true } : {}),
          },
        };
        const decision = triage(e, open.get(keyOf(e)) ?? null);
        switch (decision.kind) {
          case 'record':
            stored.push({ eventId: msg.eventId, event: e, alertId: null });
            outcomes.push('recorded');
            break;
          case 'attach': {
            const a: Alert = { ...decision.alert, eventCount: decision.alert.eventCount + 1 };
            open.set(keyOf(e), a);
            (opened.has(a.id) ? opened : changed).set(a.id, a);
            timeline.push({ alertId: a.id, ...received, details: { ...received.details, attached: true } });
            stored.push({ eventId: msg.eventId, event: e, alertId: a.id });
            changes.push(alertChanged(a, 'event_attached', msg.correlationId, now));
            outcomes.push('attached');
            break;
          }
          case 'open': {
            const household = homes.get(e.householdId);
            if (!household) throw new PermanentMessageError('unknown_household', `household ${e.householdId} does not exist`);
            const a: Alert = {
              id: randomUUID(), householdId: e.householdId, deviceId: e.deviceId, type: alertTypeOf(e.type), priority: decision.priority,
              status: 'open', district: household.district, community: household.community, openedAt: now, firstDeviceTs: e.deviceTs,
              eventCount: 1, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null, outcome: null, note: null,
              policy, escalationRound: 0, escalationDueAt: now + policy.ackTimeoutMs, timerId: randomUUID(),
            };
            open.set(keyOf(e), a);
            opened.set(a.id, a);
            timeline.push(
              { alertId: a.id, ...received },
              { alertId: a.id, at: now, kind: 'alert_opened', actor: 'system:triage', details: { priority: a.priority, ackTimeoutMs: policy.ackTimeoutMs } },
            );
            stored.push({ eventId: msg.eventId, event: e, alertId: a.id });
            requests.push(envelope(Topics.dispatchRequests, a.householdId, {
              alertId: a.id, householdId: a.householdId, round: 0, reason: 'opened', callAides: true, priority: a.priority, alertType: a.type, deviceTs: e.deviceTs,
            }, { correlationId: msg.correlationId, occurredAt: now }));
            changes.push(alertChanged(a, 'alert_opened', msg.correlationId, now));
            outcomes.push('opened');
            break;
          }
        }
      }
      await this.alerts.insertMany([...opened.values()]);
      await this.alerts.saveMany([...changed.values()]);
      await this.events.record(stored);
      await this.alerts.appendTimeline(timeline);
      await this.outbox.add(Topics.dispatchRequests, requests);
      await this.outbox.add(Topics.alertChanges, changes);
      this.uow.afterCommit(() => opened.forEach((a) => this.metrics.alertsOpened.inc({ priority: a.priority })));
      return outcomes;
    });
  }
}
