import type { DeviceEventType } from './device-protocol';
import type { Priority } from './priority';

/** Every integration topic, named `<context>.<event>.v<major>`. */
export const Topics = {
  deviceEvents: 'gateway.device-events.v1',
  rejectedEvents: 'gateway.rejected-events.v1',
  dispatchRequests: 'triage.dispatch-requests.v1',
  alertChanges: 'alerting.alert-changes.v1',
} as const;
export type TopicName = (typeof Topics)[keyof typeof Topics];

/** The dead-letter topic of a consumer group on a topic. */
export const deadLetterTopic = (topic: string, groupId: string): string => `${topic}.${groupId}.dlq`;

/** The retry topic of a consumer group on a topic (Kafka mode): failed messages wait there out of the way. */
export const retryTopic = (topic: string, groupId: string): string => `${topic}.${groupId}.retry`;

/** Common envelope: every message on the bus carries these. */
export interface Envelope<T> {
  eventId: string;
  occurredAt: string;
  correlationId: string;
  schemaVersion: 1;
  payload: T;
}

/** A device event accepted by the gateway, keyed by household. */
export interface DeviceEventReceived {
  deviceId: string;
  serial: string;
  householdId: string;
  deviceEventId: string;
  type: DeviceEventType;
  state: 'alarm' | 'clear';
  deviceTs: number;
  receivedAt: number;
  late: boolean;
  battery?: number;
  signal?: number;
  data?: Record<string, unknown>;
}

/** A device message the gateway refused, keyed by device serial. */
export interface DeviceEventRejected {
  serial: string;
  topic: string;
  reason: string;
  field?: string;
  detail: string;
  receivedAt: number;
  /** The first 4096 bytes of the payload, base64. */
  payloadBase64: string;
}

/** Triage asks dispatch to reach people about an alert, keyed by household. */
export interface DispatchRequested {
  alertId: string;
  householdId: string;
  /** 0 for the first call-out, 1.. for each escalation round. */
  round: number;
  reason: 'opened' | 'escalated';
  /** False once the policy's aide rounds are used up: only the operators are called again. */
  callAides: boolean;
  priority: Priority;
  alertType: DeviceEventType;
  deviceTs: number;
}

/** Something happened to an alert (for live views), keyed by household. */
export interface AlertChanged {
  alertId: string;
  householdId: string;
  district: string;
  status: string;
  priority: Priority;
  kind: string;
}

export interface TopicPayloads {
  [Topics.deviceEvents]: DeviceEventReceived;
  [Topics.rejectedEvents]: DeviceEventRejected;
  [Topics.dispatchRequests]: DispatchRequested;
  [Topics.alertChanges]: AlertChanged;
}
