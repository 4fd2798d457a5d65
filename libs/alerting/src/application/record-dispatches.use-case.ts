import { Injectable } from '@nestjs/common';
import { Topics } from '@linan/contracts';
import { Clock, Outbox, UnitOfWork } from '@linan/platform';
import { markDispatched } from '../domain/alert';
import { alertChanged } from './alert-changed';
import { AlertRepository } from './ports/alert.repository';

export interface DispatchNote {
  dispatchId: string;
  recipientKind: string;
  recipientName: string;
  channel: string;
  status: string;
  attempts: number;
  round: number;
  error?: string;
}

/** Dispatch reports what it sent; the alert's timeline shows it and the alert moves open → dispatched. */
@Injectable()
export class RecordDispatchesUseCase {
  constructor(private readonly uow: UnitOfWork, private readonly alerts: AlertRepository, private readonly outbox: Outbox, private readonly clock: Clock) {}

  execute(alertId: string, notes: DispatchNote[]): Promise<void> {
    return this.uow.run(async () => {
      const now = this.clock.now();
      const current = await this.alerts.lockById(alertId);
      if (!current) return;
      await this.alerts.appendTimeline(notes.map((n) => ({
        alertId, at: now, kind: n.status === 'failed' ? 'dispatch_failed' : 'dispatch_sent', actor: 'system:dispatch', details: { ...n },
      })));
      const a = markDispatched(current);
      if (a !== current && notes.some((n) => n.status === 'sent')) {
        await this.alerts.save(a);
        await this.outbox.add(Topics.alertChanges, [alertChanged(a, 'dispatched', undefined, now)]);
      }
    });
  }
}
