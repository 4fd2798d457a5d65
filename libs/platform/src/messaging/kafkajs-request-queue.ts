/**
 * A fix for kafkajs 2.2.4's request queue, applied once when the Kafka bus is built.
 *
 * Each broker connection of kafkajs has a request queue that holds requests back while the connection is throttled
 * or has its maximum of requests in flight, and checks again later. In 2.2.4 that check reschedules itself after
 * every check, also when nothing is waiting, and with a negative delay when nothing is throttled: a one-millisecond
 * timer per connection, forever (kafkajs issue #1556, fix proposed in pull request #1667, not released). A process
 * holds several connections (producer, admin, each consumer's coordinator and broker connections), so an idle app
 * spent a tenth of a core or more just turning that timer over, and under load the timers take turns with real work.
 *
 * The fixed check is scheduled only while requests wait: at the end of the throttle, or after the original 10 ms
 * when they wait for a free in-flight slot (a response or a timeout checks at once anyway, as before).
 */
import { kafkajsFix, kafkajsModule } from './kafkajs-internals';

/** kafkajs's own constant for a check that is not waiting out a throttle. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/** The part of kafkajs's RequestQueue the fix relies on. */
export interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's scheduleCheckPendingRequests as it should be: a timer only while something waits. */
export function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
  const throttledFor = this.throttledUntil - Date.now();
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS);
}

/**
 * Replaces the method on kafkajs's RequestQueue for the whole process, once. Returns what happened, for the log:
 * `skipped` (with the version found) when the installed kafkajs is not the release the fix was written for.
 */
export const fixKafkaRequestQueue = kafkajsFix(() => {
  const RequestQueue = kafkajsModule<{ prototype: RequestQueueLike }>('./src/network/requestQueue/index.js');
  if (typeof RequestQueue.prototype.scheduleCheckPendingRequests !== 'function') return false;
  RequestQueue.prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return true;
});
