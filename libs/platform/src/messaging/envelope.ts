import { randomUUID } from 'node:crypto';
import type { Envelope, TopicPayloads } from '@linan/contracts';
import { PermanentMessageError } from '@linan/contracts';
import type { InboundMessage, OutgoingMessage } from './message-bus';

export interface EnvelopeMeta {
  eventId?: string;
  correlationId?: string;
  occurredAt?: number;
}

/** Wraps a payload in the common envelope; the event id doubles as the idempotency key downstream. */
export function envelope<T extends keyof TopicPayloads>(
  _topic: T,
  key: string,
  payload: TopicPayloads[T],
  meta: EnvelopeMeta = {},
): OutgoingMessage {
  const eventId = meta.eventId ?? randomUUID();
  const e: Envelope<TopicPayloads[T]> = {
    eventId,
    occurredAt: new Date(meta.occurredAt ?? Date.now()).toISOString(),
    correlationId: meta.correlationId ?? eventId,
    schemaVersion: 1,
    payload,
  };
  return { key, value: JSON.stringify(e), headers: { eventId, correlationId: e.correlationId, schemaVersion: '1' } };
}

/** Reads an envelope; a message that is not one can never be processed. */
export function openEnvelope<T extends keyof TopicPayloads>(_topic: T, m: InboundMessage): Envelope<TopicPayloads[T]> {
  let v: unknown;
  try {
    v = JSON.parse(m.value);
  } catch {
    throw new PermanentMessageError('not_json', `message at ${m.topic}/${m.partition}@${m.offset} is not JSON`);
  }
  const e = v as Partial<Envelope<unknown>>;
  if (!e || typeof e !== 'object' || typeof e.eventId !== 'string' || e.schemaVersion !== 1 || typeof e.payload !== 'object' || e.payload === null) {
    throw new PermanentMessageError('bad_envelope', `message at ${m.topic}/${m.partition}@${m.offset} is not a v1 envelope`);
  }
  return e as Envelope<TopicPayloads[T]>;
}
