import type { Channel, RecipientKind } from '../../domain/recipients';
import type { AlertBrief } from './notification.ports';

export interface DispatchContext extends AlertBrief {
  /** The device's time of the event that opened the alert, for the device → first dispatch histogram. */
  deviceTs: number;
}

export type DispatchStatus = 'pending' | 'sent' | 'failed';

export interface Dispatch {
  id: string;
  alertId: string;
  round: number;
  recipientKind: RecipientKind;
  recipientId: string;
  recipientName: string;
  channel: Channel;
  status: DispatchStatus;
  attempts: number;
  lastError: string | null;
  providerRef: string | null;
  /** Phone number for SMS; null for the console. */
  destination: string | null;
  /** The text sent (names and addresses already masked). */
  body: string;
  context: DispatchContext;
  createdAt: number;
  updatedAt: number;
}

export abstract class DispatchRepository {
  /** Inserts the ones not yet recorded (same alert, round, recipient and channel); returns the stored row of each. */
  abstract insertMissing(rows: Dispatch[]): Promise<Dispatch[]>;
  /** Stores the outcome of sending (status, attempts, error, provider reference) of each dispatch in one statement. */
  abstract saveResults(results: Dispatch[]): Promise<void>;
  /**
   * Which of these alerts are on record, each with the aides called about it and the round that called them (none
   * yet: an empty list). An alert missing from the answer is not in the database.
   */
  abstract onRecord(alertIds: string[]): Promise<Map<string, { aideId: string; round: number }[]>>;
  /** Newest first; `district` keeps only dispatches of alerts in that district. */
  abstract list(filter: { alertId?: string; district?: string | null; limit: number }): Promise<Dispatch[]>;
  /**
   * Takes dispatches still pending and untouched since `before` for a resend, marking them touched at `now`, so
   * that of several dispatch replicas sweeping at once only one takes each (the others skip it for a while).
   */
  abstract claimPending(before: number, now: number, limit: number): Promise<Dispatch[]>;
}
