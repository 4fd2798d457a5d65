import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { InboundMessage, OutgoingMessage } from './message-bus';

/** What a message on a retry topic carries besides its own headers. */
export const RETRY_HEADERS = { topic: 'retry-topic', attempt: 'retry-attempt', notBefore: 'retry-not-before' } as const;

/** Kafka's headers (buffers, possibly repeated) as strings, the last value of each. */
export function headersOf(h: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
  }
  return out;
}

export function withoutRetryHeaders(h: Record<string, string> = {}): Record<string, string> {
  const out = { ...h };
  for (const k of Object.values(RETRY_HEADERS)) delete out[k];
  return out;
}

/** A fetched Kafka message as the bus hands it over; one from a retry topic carries its original topic and attempt. */
export function inbound(topic: string, partition: number, m: KafkaMessage, originalTopic: string | undefined): InboundMessage {
  const headers = headersOf(m.headers);
  return {
    // a message from a retry topic is handled as what it was: a message of its original topic
    topic: originalTopic ? headers[RETRY_HEADERS.topic] ?? originalTopic : topic,
    partition,
    offset: m.offset,
    key: m.key?.toString() ?? '',
    value: m.value?.toString() ?? '',
    headers,
    timestamp: Number(m.timestamp),
    attempt: originalTopic ? Number(headers[RETRY_HEADERS.attempt] ?? 2) : 1,
  };
}

/** The copy of a failed message that goes to its retry topic: due at `notBefore`, as the next attempt. */
export function forRetry(m: InboundMessage, notBefore: number): OutgoingMessage {
  return {
    key: m.key, value: m.value,
    headers: {
      ...m.headers, [RETRY_HEADERS.topic]: m.topic, [RETRY_HEADERS.attempt]: String(m.attempt + 1),
      [RETRY_HEADERS.notBefore]: String(notBefore),
    },
  };
}
