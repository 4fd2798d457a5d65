import type { DeviceEventReceived } from '@linan/contracts';
import type { Alert, AlertStatus } from '../../domain/alert';

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
  /** The household's unresolved alert of this type, locked for the rest of the transaction. */
  abstract findOpenForUpdate(householdId: string, type: string): Promise<Alert | null>;
  abstract lockById(id: string): Promise<Alert | null>;
  abstract findById(id: string): Promise<Alert | null>;
  abstract insert(alert: Alert): Promise<void>;
  abstract save(alert: Alert): Promise<void>;
  /** Alerts whose escalation timer is due, skipping rows another worker holds. */
  abstract dueTimers(now: number, limit: number): Promise<{ id: string; timerId: string }[]>;
  abstract appendTimeline(entries: TimelineEntry[]): Promise<void>;
  abstract timeline(alertId: string): Promise<TimelineEntry[]>;
  abstract list(filter: AlertListFilter): Promise<AlertSummary[]>;
  abstract statusCounts(): Promise<Record<AlertStatus, number>>;
}

export abstract class DeviceEventLog {
  /**
   * Stores the device event with the alert it went to; false when the same device sent the same event id within
   * the duplicate window (24 h). An id reused after the window is a new event.
   */
  abstract recordOnce(eventId: string, e: DeviceEventReceived, alertId: string | null): Promise<boolean>;
  abstract recentForHousehold(householdId: string, limit: number): Promise<Array<DeviceEventReceived & { alertId: string | null }>>;
}
