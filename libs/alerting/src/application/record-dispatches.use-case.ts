import { Injectable } from '@nestjs/common';
import { Topics } from '@linan/contracts';
import { Clock, Outbox, UnitOfWork } from '@linan/platform';
import { markDispatched, type Alert } from '../domain/alert';
import { alertChanged } from './alert-changed';
import { AlertRepository } from './ports/alert.repository';

export interface DispatchNote {
  alertId: string;
  dispatchId: string;
  recipientKind: string;
  recipientName: string;
  channel: string;
  status: string;
  attempts: number;
  round: number;
  error?: string;
}

/**
 * Dispatch reports what it sent: the alerts' timelines show it and each alert with a successful dispatch moves
 * open → dispatched. Any number of alerts in one transaction.
 */
@Injectable()
export class RecordDispatchesUseCase {
  constructor(private readonly uow: UnitOfWork, private readonly alerts: AlertRepository, private readonly outbox: Outbox, private readonly clock: Clock) {}

  execute(notes: DispatchNote[]): Promise<void> {
    return this.uow.run(async () => {
      const now = this.clock.now();
      const current = await this.alerts.lockByIds([...new Set(notes.map((n) => n.alertId))]);
      const known = new Set(current.map((a) => a.id));
      await this.alerts.appendTimeline(notes.filter((n) => known.has(n.alertId)).map(({ alertId, ...n }) => ({
        alertId, at: now, kind: n.status === 'failed' ? 'dispatch_failed' : 'dispatch_sent', actor: 'system:dispatch', details: { ...n },
      })));
      const sent = new Set(notes.filter((n) => n.status === 'sent').map((n) => n.alertId));
      const moved: Alert[] = current
        .filter((a) => sent.has(a.id))
        .map((a) => [a, markDispatched(a)] as const)
        .filter(([before, after]) => after !== before)
        .map(([, after]) => after);
      await this.alerts.saveMany(moved);
      await this.outbox.add(Topics.alertChanges, moved.map((a) => alertChanged(a, 'dispatched', undefined, now)));
    });
  }
}
