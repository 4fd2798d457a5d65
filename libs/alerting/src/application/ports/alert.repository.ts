import type { DeviceEventReceived } from '@linan/contracts';
import type { Alert } from '../../domain/alert';

export interface TimelineEntry {
  alertId: string;
  at: number;
  kind: string;
  actor: string;
  details?: Record<string, unknown>;
}

export interface AlertListFilter {
  status: 'open' | 'closed' | 'all';
  householdId?: string;
  district?: string | null;
  limit: number;
}

export interface AlertSummary extends Alert {
  householdName: string;
  address: string;
}

export abstract class AlertRepository {
  /** The unresolved alerts of these (household, type) pairs, locked for the rest of the transaction. */
  abstract findOpenForUpdate(keys: { householdId: string; type: string }[]): Promise<Alert[]>;
  abstract lockById(id: string): Promise<Alert | null>;
  abstract lockByIds(ids: string[]): Promise<Alert[]>;
  abstract findById(id: string): Promise<Alert | null>;
  abstract insertMany(alerts: Alert[]): Promise<void>;
  /** Stores the changeable fields (status, counts, acknowledgement, resolution, escalation clock) of each alert. */
  abstract saveMany(alerts: Alert[]): Promise<void>;
  /** Alerts whose escalation timer is due, skipping rows another worker holds. */
  abstract dueTimers(now: number, limit: number): Promise<{ id: string; timerId: string }[]>;
  abstract appendTimeline(entries: TimelineEntry[]): Promise<void>;
  abstract timeline(alertId: string): Promise<TimelineEntry[]>;
  abstract list(filter: AlertListFilter): Promise<AlertSummary[]>;
}

export abstract class DeviceEventLog {
  /**
   * The events that are new, in order, each once: an event whose device already sent the same event id within the
   * duplicate window (24 h), stored or earlier in `events`, is left out. An id reused after the window is new.
   */
  abstract newOf(events: DeviceEventReceived[]): Promise<DeviceEventReceived[]>;
  /**
   * Stores new events (from `newOf`, in the same transaction) with the alert each opened or joined. The transaction
   * fails with ConcurrentEventError when one of them was stored meanwhile (at the latest when it commits: the write
   * may be held until then), so the caller's transaction runs again.
   */
  abstract record(events: { eventId: string; event: DeviceEventReceived; alertId: string | null }[]): Promise<void>;
  abstract recentForHousehold(householdId: string, limit: number): Promise<Array<DeviceEventReceived & { alertId: string | null }>>;
}

/** Another transaction stored one of the same device events between `newOf` and `record`: run the batch again. */
export class ConcurrentEventError extends Error {
  constructor(count: number) {
    super(`${count} device event(s) were stored by another transaction meanwhile`);
  }
}
