import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Topics, type DeviceEventReceived, type Envelope } from '@linan/contracts';
import { AppConfig, Clock, Metrics, Outbox, PermanentMessageError, UnitOfWork, envelope } from '@linan/platform';
import { HouseholdRepository } from '@linan/people';
import { alertTypeOf, triage, type Alert } from '../domain/alert';
import { AlertRepository, DeviceEventLog } from './ports/alert.repository';
import { alertChanged } from './alert-changed';

export type TriageOutcome = 'duplicate' | 'recorded' | 'opened' | 'attached';

/**
 * Turns one accepted device event into alert state, idempotently by the device's event id: opens an alert with
 * its priority and escalation clock, or attaches the event to the household's open alert of that type. The alert,
 * its timeline and the dispatch request commit together (outbox).
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

  execute(msg: Envelope<DeviceEventReceived>): Promise<TriageOutcome> {
    const e = msg.payload;
    return this.uow.run(async () => {
      const now = this.clock.now();
      const actor = `device:${e.serial}`;
      const received = { at: e.receivedAt, kind: 'event_received', actor, details: { deviceEventId: e.deviceEventId, type: e.type, state: e.state, deviceTs: e.deviceTs, late: e.late, battery: e.battery } };
      const decision = triage(e, await this.alerts.findOpenForUpdate(e.householdId, alertTypeOf(e.type)));
      switch (decision.kind) {
        case 'record':
          return (await this.events.recordOnce(msg.eventId, e, null)) ? 'recorded' : 'duplicate';
        case 'attach': {
          if (!(await this.events.recordOnce(msg.eventId, e, decision.alert.id))) return 'duplicate';
          const a: Alert = { ...decision.alert, eventCount: decision.alert.eventCount + 1 };
          await this.alerts.save(a);
          await this.alerts.appendTimeline([{ alertId: a.id, ...received, details: { ...received.details, attached: true } }]);
          await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'event_attached', msg.correlationId, now)]);
          return 'attached';
        }
        case 'open': {
          const alertId = randomUUID();
          if (!(await this.events.recordOnce(msg.eventId, e, alertId))) return 'duplicate';
          const household = await this.households.findById(e.householdId);
          if (!household) throw new PermanentMessageError('unknown_household', `household ${e.householdId} does not exist`);
          const policy = { ackTimeoutMs: this.config.escalation.ackTimeoutMs, maxAideRounds: this.config.escalation.maxRounds };
          const a: Alert = {
            id: alertId, householdId: e.householdId, deviceId: e.deviceId, type: e.type, priority: decision.priority,
            status: 'open', district: household.district, community: household.community, openedAt: now, firstDeviceTs: e.deviceTs,
            eventCount: 1, acknowledgedAt: null, acknowledgedBy: null, resolvedAt: null, resolvedBy: null, outcome: null, note: null,
            policy, escalationRound: 0, escalationDueAt: now + policy.ackTimeoutMs, timerId: randomUUID(),
          };
          await this.alerts.insert(a);
          await this.alerts.appendTimeline([
            { alertId: a.id, ...received },
            { alertId: a.id, at: now, kind: 'alert_opened', actor: 'system:triage', details: { priority: a.priority, ackTimeoutMs: policy.ackTimeoutMs } },
          ]);
          await this.outbox.add(Topics.dispatchRequests, [envelope(Topics.dispatchRequests, a.householdId, {
            alertId: a.id, householdId: a.householdId, round: 0, reason: 'opened', callAides: true, priority: a.priority, alertType: a.type, deviceTs: e.deviceTs,
          }, { correlationId: msg.correlationId, occurredAt: now })]);
          await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'alert_opened', msg.correlationId, now)]);
          this.uow.afterCommit(() => this.metrics.alertsOpened.inc({ priority: a.priority }));
          return 'opened';
        }
      }
    });
  }
}
