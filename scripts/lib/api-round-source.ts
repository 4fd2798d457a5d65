/**
 * Reading a round back through the HTTP API (embedded mode: its database is inside the platform's process), and
 * what the bench reads of an app's /metrics.
 */
import { sumMetric } from '../../libs/testing/src/services/metrics-text';
import { epochMs, mapLimit, type AlertDetail, type AlertSummary, type ApiClient } from './api';
import type { AlertRecord, AppMetrics, RoundSource } from './bench-round';

/** Parses a /metrics text for one gauge. */
export function parseMetric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** What the bench reads of an app's /metrics after each round. */
export const appMetricsOf = (text: string): AppMetrics => ({
  lagMaxMs: parseMetric(text, 'linan_nodejs_eventloop_lag_max_seconds') * 1000,
  gcSeconds: sumMetric(text, 'linan_nodejs_gc_duration_seconds_sum'),
  majorGcSeconds: sumMetric(text, 'linan_nodejs_gc_duration_seconds_sum', { kind: 'major' }),
  kafkaFetches: sumMetric(text, 'linan_kafka_requests_total', { client: 'consumer', api: 'Fetch' }),
  kafkaProduces: sumMetric(text, 'linan_kafka_requests_total', { client: 'producer', api: 'Produce' }),
});

const FIRST_DISPATCHES = 'linan_device_to_first_dispatch_seconds_count';

/**
 * The alerts through the console's API: the queue to wait, then each alert's detail (timeline and dispatches).
 * While a round runs it watches the platform's count of first dispatches on /metrics (no database read) and lists
 * the queue only once that count says every alarm may be done: a 200-alert queue read is work on the same thread
 * as the chain being measured, and polling it mid-round would delay the very alarms it waits for.
 */
export class ApiRoundSource implements RoundSource {
  readonly pollMs = 200;
  private firstDispatchesAtStart = 0;
  private lagMaxMs = 0;
  constructor(private readonly api: ApiClient) {}

  /** Reads /metrics. Each read starts a new event-loop lag window in the platform: the largest lag seen is kept. */
  private async metrics(): Promise<string> {
    const text = await this.api.text('/metrics');
    this.lagMaxMs = Math.max(this.lagMaxMs, parseMetric(text, 'linan_nodejs_eventloop_lag_max_seconds') * 1000 || 0);
    return text;
  }

  /** The platform's counters so far, with the largest event-loop lag it reported since the previous call. */
  async takeMetrics(): Promise<AppMetrics> {
    const counters = appMetricsOf(await this.metrics());
    const lagMaxMs = this.lagMaxMs;
    this.lagMaxMs = 0;
    return { ...counters, lagMaxMs };
  }

  private async firstDispatches(): Promise<number> {
    return parseMetric(await this.metrics(), FIRST_DISPATCHES) || 0;
  }

  async roundStarts(): Promise<void> {
    this.firstDispatchesAtStart = await this.firstDispatches();
  }

  private async unresolved(households: ReadonlySet<string>): Promise<AlertSummary[]> {
    // the queue lists up to 500 unresolved alerts: enough for the embedded run's 200 devices
    const list = await this.api.get<{ items: AlertSummary[] }>('/api/v1/alerts?status=open');
    return list.items.filter((a) => households.has(a.householdId));
  }

  async progress(households: ReadonlySet<string>) {
    const counted = (await this.firstDispatches()) - this.firstDispatchesAtStart;
    // not all there yet by the platform's own count: report that without reading the queue
    if (counted < households.size) return { opened: households.size, dispatched: counted };
    const alerts = await this.unresolved(households);
    return { opened: alerts.length, dispatched: alerts.filter((a) => a.status !== 'open').length };
  }

  async read(households: ReadonlySet<string>): Promise<AlertRecord[]> {
    const details = await mapLimit(await this.unresolved(households), 6, (a) => this.api.get<AlertDetail>(`/api/v1/alerts/${a.id}`));
    return details.map((d) => {
      const r0 = d.dispatches.filter((x) => x.round === 0);
      const aideSent = r0.filter((x) => x.recipientKind === 'aide' && x.status === 'sent').map((x) => epochMs(x.updatedAt));
      const sentOnTimeline = d.timeline.filter((t) => t.kind === 'dispatch_sent').map((t) => epochMs(t.at));
      const received = d.timeline.find((t) => t.kind === 'event_received');
      const min = (xs: number[]) => (xs.length ? Math.min(...xs) : NaN);
      return {
        id: d.id, householdId: d.householdId, createdAt: epochMs(d.createdAt), eventCount: d.eventCount,
        eventReceivedAt: received ? epochMs(received.at) : NaN,
        dispatchCreatedAt: min(r0.map((x) => epochMs(x.createdAt))),
        firstAideSentAt: min(aideSent),
        dispatchSentOnTimelineAt: min(sentOnTimeline),
      };
    });
  }
}
