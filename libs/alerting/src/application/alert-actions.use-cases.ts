import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Topics } from '@linan/contracts';
import { Clock, Metrics, Outbox, RootLogger, UnitOfWork, envelope, notFound } from '@linan/platform';
import { assertDistrict, type Actor } from '@linan/auth';
import { acknowledge, applyEscalation, nextStep, resolve, type Alert, type Outcome } from '../domain/alert';
import { alertChanged } from './alert-changed';
import { AlertRepository } from './ports/alert.repository';

async function lockForActor(alerts: AlertRepository, actor: Actor, id: string): Promise<Alert> {
  const a = await alerts.lockById(id);
  if (!a) throw notFound('ALERT.NOT_FOUND', `alert ${id} does not exist`);
  assertDistrict(actor, a.district);
  return a;
}

@Injectable()
export class AcknowledgeAlertUseCase {
  constructor(private readonly uow: UnitOfWork, private readonly alerts: AlertRepository, private readonly outbox: Outbox, private readonly clock: Clock) {}

  execute(actor: Actor, id: string): Promise<Alert> {
    return this.uow.run(async () => {
      const now = this.clock.now();
      const a = acknowledge(await lockForActor(this.alerts, actor, id), actor.username, now);
      await this.alerts.saveMany([a]);
      await this.alerts.appendTimeline([{ alertId: a.id, at: now, kind: 'acknowledged', actor: `user:${actor.username}`, details: { role: actor.role } }]);
      await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'acknowledged', undefined, now)]);
      return a;
    });
  }
}

@Injectable()
export class ResolveAlertUseCase {
  constructor(private readonly uow: UnitOfWork, private readonly alerts: AlertRepository, private readonly outbox: Outbox, private readonly clock: Clock) {}

  execute(actor: Actor, id: string, outcome: Outcome, note: string | null): Promise<Alert> {
    return this.uow.run(async () => {
      const now = this.clock.now();
      const a = resolve(await lockForActor(this.alerts, actor, id), actor.username, outcome, note, now);
      await this.alerts.saveMany([a]);
      await this.alerts.appendTimeline([{ alertId: a.id, at: now, kind: 'resolved', actor: `user:${actor.username}`, details: { outcome, note } }]);
      await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'resolved', undefined, now)]);
      return a;
    });
  }
}

/**
 * One pass of the durable escalation timer: every due alert is escalated in its own transaction, which locks the
 * row and checks the timer id, so a tick that lost a race (acknowledged meanwhile, or handled by another replica)
 * does nothing. The next timer, the timeline entry and the dispatch request commit together.
 */
@Injectable()
export class EscalateDueAlertsUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly alerts: AlertRepository,
    private readonly outbox: Outbox,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: RootLogger,
  ) {}

  async execute(limit = 50): Promise<number> {
    // The look for due timers, every TIMER_POLL_MS, is background work: it finds nothing almost always, and as
    // alarm-path work it kept the embedded database from ever being quiet for a second, so its vacuum and analyze
    // waited their ten minutes at most (Database.whenQuiet). The escalations it finds are alarm-path work.
    const due = await this.uow.run(() => this.alerts.dueTimers(this.clock.now(), limit), { background: true });
    let escalated = 0;
    for (const { id, timerId } of due) {
      try {
        if (await this.escalateOne(id, timerId)) escalated++;
      } catch (err) {
        this.log.error({ err, alertId: id }, 'escalation failed; it will be retried on the next tick');
      }
    }
    return escalated;
  }

  private escalateOne(id: string, timerId: string): Promise<boolean> {
    return this.uow.run(async () => {
      const current = await this.alerts.lockById(id);
      const now = this.clock.now();
      if (!current) return false;
      const step = nextStep(current, timerId, now);
      if (step.kind === 'stale') return false;
      const a = applyEscalation(current, step, randomUUID());
      await this.alerts.saveMany([a]);
      await this.alerts.appendTimeline([{
        alertId: a.id, at: now, kind: 'escalated', actor: 'system:escalation',
        details: { round: step.round, callAides: step.callAides, unansweredForMs: now - current.openedAt, nextDueAt: new Date(step.nextDueAt).toISOString() },
      }]);
      await this.outbox.add(Topics.dispatchRequests, [envelope(Topics.dispatchRequests, a.householdId, {
        alertId: a.id, householdId: a.householdId, round: step.round, reason: 'escalated', callAides: step.callAides, priority: a.priority, alertType: a.type, deviceTs: a.firstDeviceTs,
      }, { occurredAt: now })]);
      await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'escalated', undefined, now)]);
      this.uow.afterCommit(() => this.metrics.escalations.inc());
      return true;
    });
  }
}
