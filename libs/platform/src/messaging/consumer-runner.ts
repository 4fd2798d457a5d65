import type { Logger } from 'pino';
import { PermanentMessageError } from '@linan/contracts';
import { deadLetterTopic } from '@linan/contracts';
import type { FailureReport, InboundMessage, OutgoingMessage, Subscription } from './message-bus';

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
}

export interface DeadLetter {
  topic: string;
  message: OutgoingMessage;
}

/** Builds the dead-letter record of a message: the original key, value and headers, plus why and how often. */
export function deadLetterFor(sub: Subscription, m: InboundMessage, reason: string, error: unknown): DeadLetter {
  const detail = error instanceof Error ? error.message : String(error);
  return {
    topic: deadLetterTopic(m.topic, sub.groupId),
    message: {
      key: m.key,
      value: m.value,
      headers: {
        ...m.headers,
        'dlq-reason': reason,
        'dlq-error': detail.slice(0, 500),
        'dlq-source': `${m.topic}/${m.partition}@${m.offset}`,
        'dlq-group': sub.groupId,
        'dlq-attempts': String(m.attempt),
      },
    },
  };
}

/**
 * A live view's messages: no transaction, no offset, no retry. Several at once go to `handleBatch` when the
 * subscription has one (a console replica relays a burst as one handover); a failure is logged and skipped, as the
 * live view's clients re-read what they missed over the API.
 */
export async function showLive(sub: Subscription, messages: InboundMessage[], log: Logger): Promise<void> {
  const failed = (err: unknown, m: InboundMessage, count = 1) =>
    log.warn({ err, group: sub.groupId, topic: m.topic, offset: m.offset, count }, 'live view could not show a message');
  if (sub.handleBatch && messages.length > 1) {
    try {
      await sub.handleBatch(messages);
    } catch (err) {
      failed(err, messages[0], messages.length);
    }
    return;
  }
  for (const m of messages) {
    try {
      await sub.handle(m);
    } catch (err) {
      failed(err, m);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs one message with the retry policy: a permanent failure is dead-lettered at once, any other error is retried
 * with exponential backoff and dead-lettered after the last attempt. Never drops a message silently.
 * `firstFailure`, when given, is the outcome of the first attempt (already made, inside a batch). Each failure is
 * told to `report`.
 */
export async function runWithRetries(
  sub: Subscription,
  m: InboundMessage,
  policy: RetryPolicy,
  log: Logger,
  attemptOnce: (m: InboundMessage) => Promise<void>,
  deadLetter: (dl: DeadLetter) => Promise<void>,
  isStopping: () => boolean,
  firstFailure?: unknown,
  report: FailureReport = () => undefined,
): Promise<'done' | 'dead-lettered' | 'stopped'> {
  for (let attempt = m.attempt; ; attempt++) {
    const msg = { ...m, attempt };
    try {
      if (attempt === m.attempt && firstFailure !== undefined) throw firstFailure;
      await attemptOnce(msg);
      return 'done';
    } catch (err) {
      const ctx = { group: sub.groupId, topic: m.topic, partition: m.partition, offset: m.offset, attempt, err };
      if (err instanceof PermanentMessageError) {
        log.error(ctx, 'message can never be processed; dead-lettered');
        await deadLetter(deadLetterFor(sub, msg, err.reason, err));
        report({ group: sub.groupId, topic: m.topic, outcome: 'dead_letter', reason: err.reason });
        return 'dead-lettered';
      }
      if (attempt >= policy.maxAttempts) {
        log.error(ctx, 'message failed on every attempt; dead-lettered');
        await deadLetter(deadLetterFor(sub, msg, 'max_attempts', err));
        report({ group: sub.groupId, topic: m.topic, outcome: 'dead_letter', reason: 'max_attempts' });
        return 'dead-lettered';
      }
      log.warn(ctx, 'message failed; will retry');
      report({ group: sub.groupId, topic: m.topic, outcome: 'retry', reason: 'transient' });
      await sleep(policy.baseDelayMs * 2 ** (attempt - 1));
      if (isStopping()) return 'stopped';
    }
  }
}
