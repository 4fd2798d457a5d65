import { Topics } from '@linan/contracts';
import { envelope, type OutgoingMessage } from '@linan/platform';
import type { Alert } from '../domain/alert';

/** The live-view event for any change of an alert. */
export function alertChanged(a: Alert, kind: string, correlationId: string | undefined, now: number): OutgoingMessage {
  return envelope(Topics.alertChanges, a.householdId, {
    alertId: a.id, householdId: a.householdId, district: a.district, status: a.status, priority: a.priority, kind,
  }, { correlationId, occurredAt: now });
}
