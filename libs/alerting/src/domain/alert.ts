import { PRIORITY_BY_EVENT, type DeviceEventType, type Priority } from '@linan/contracts';
import { DomainError } from '@linan/contracts';

export type AlertStatus = 'open' | 'dispatched' | 'escalated' | 'acknowledged' | 'resolved';
export const OUTCOMES = [
  'genuine_emergency', 'false_alarm', 'test', 'no_access', 'handed_to_emergency_services', 'not_home', 'other',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Copied onto the alert when it opens, so later policy edits never change a running alarm. */
export interface EscalationPolicy {
  /** How long the people called may take to acknowledge before the next round. */
  ackTimeoutMs: number;
  /** Rounds that call further aides; after them the operators keep being reminded every ackTimeoutMs. */
  maxAideRounds: number;
}

export interface Alert {
  id: string;
  householdId: string;
  deviceId: string | null;
  type: DeviceEventType;
  priority: Priority;
  status: AlertStatus;
  district: string;
  community: string;
  openedAt: number;
  firstDeviceTs: number;
  eventCount: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  outcome: Outcome | null;
  note: string | null;
  policy: EscalationPolicy;
  escalationRound: number;
  /** The durable timer: when it is due and which timer it is (a tick for another timer id is stale). */
  escalationDueAt: number | null;
  timerId: string | null;
}

/** What triage does with one accepted device event. */
export type TriageDecision =
  | { kind: 'open'; priority: Priority }
  | { kind: 'attach'; alert: Alert }
  | { kind: 'record'; why: string };

/** The alert type an event belongs to: power restored belongs to the power-loss alert, everything else to its own type. */
export function alertTypeOf(type: DeviceEventType): DeviceEventType {
  return type === 'power_restored' ? 'power_loss' : type;
}

/** Pure triage rule: the household's open alert of the same type absorbs the event; otherwise an alarm opens one. */
export function triage(event: { type: DeviceEventType; state: 'alarm' | 'clear' }, openAlert: Alert | null): TriageDecision {
  if (openAlert && openAlert.type === alertTypeOf(event.type)) return { kind: 'attach', alert: openAlert };
  if (event.type === 'test') return { kind: 'record', why: 'test events are shown to the installer, not alerted' };
  if (event.type === 'power_restored') return { kind: 'record', why: 'power restored with no open power alert' };
  if (event.state === 'clear') return { kind: 'record', why: 'a clear with no open alert' };
  return { kind: 'open', priority: PRIORITY_BY_EVENT[event.type] };
}

export class AlertStateError extends DomainError {
  constructor(action: string, status: AlertStatus) {
    super('ALERT.WRONG_STATE', 'conflict', `cannot ${action} an alert that is ${status}`, { status });
  }
}

const ACKNOWLEDGEABLE: AlertStatus[] = ['open', 'dispatched', 'escalated'];

export function markDispatched(alert: Alert): Alert {
  return alert.status === 'open' ? { ...alert, status: 'dispatched' } : alert;
}

export function acknowledge(alert: Alert, by: string, now: number): Alert {
  if (!ACKNOWLEDGEABLE.includes(alert.status)) throw new AlertStateError('acknowledge', alert.status);
  return { ...alert, status: 'acknowledged', acknowledgedAt: now, acknowledgedBy: by, escalationDueAt: null, timerId: null };
}

export function resolve(alert: Alert, by: string, outcome: Outcome, note: string | null, now: number): Alert {
  if (alert.status === 'resolved') throw new AlertStateError('resolve', alert.status);
  return { ...alert, status: 'resolved', resolvedAt: now, resolvedBy: by, outcome, note, escalationDueAt: null, timerId: null };
}

/** What a due escalation timer does. */
export type TimerStep =
  | { kind: 'stale' }
  | { kind: 'escalate'; round: number; callAides: boolean; nextDueAt: number };

/**
 * The escalation step for a timer tick: stale when the alert moved on (acknowledged, resolved, or re-armed with
 * another timer); otherwise the next round, which calls further aides while rounds remain and always the operators.
 */
export function nextStep(alert: Alert, timerId: string, now: number): TimerStep {
  if (alert.timerId !== timerId || alert.escalationDueAt === null) return { kind: 'stale' };
  switch (alert.status) {
    case 'acknowledged':
    case 'resolved':
      return { kind: 'stale' };
    case 'open':
    case 'dispatched':
    case 'escalated': {
      const round = alert.escalationRound + 1;
      return { kind: 'escalate', round, callAides: round <= alert.policy.maxAideRounds, nextDueAt: now + alert.policy.ackTimeoutMs };
    }
    default: {
      const never: never = alert.status;
      throw new Error(`unhandled status ${String(never)}`);
    }
  }
}

export function applyEscalation(alert: Alert, step: Extract<TimerStep, { kind: 'escalate' }>, newTimerId: string): Alert {
  return { ...alert, status: 'escalated', escalationRound: step.round, escalationDueAt: step.nextDueAt, timerId: newTimerId };
}
