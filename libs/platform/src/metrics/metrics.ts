import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ConsumerLag, MessageFailure } from '../messaging/message-bus';
import { withTimeout } from '../time/with-timeout';

/** How long a scrape waits for the consumer lag (a Kafka request and a query) before it goes without. */
const LAG_TIMEOUT_MS = 3_000;
/** How long the parts' health read at a scrape is reused: frequent scrapes do not ask every service each time. */
const HEALTH_REUSE_MS = 5_000;

/** Every product metric in one registry, exposed on GET /metrics. */
export class Metrics {
  readonly registry = new Registry();

  readonly messagesIn = new Counter({
    name: 'linan_gateway_messages_total',
    help: 'Device messages received by the gateway, by channel (events, heartbeat, status)',
    labelNames: ['channel'] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'linan_gateway_rejected_total',
    help: 'Device messages refused, by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly duplicates = new Counter({
    name: 'linan_gateway_duplicates_total',
    help: 'Device events dropped as duplicates of an event id seen within 24 h',
    registers: [this.registry],
  });
  readonly cacheErrors = new Counter({
    name: 'linan_cache_errors_total',
    help: 'Cache (Redis) calls that failed and were passed over: dedup fails open, presence is best effort, rate limits are counted in the process; by operation',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly connectRefused = new Counter({
    name: 'linan_gateway_connect_refused_total',
    help: 'MQTT connections refused, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly aclDenied = new Counter({
    name: 'linan_gateway_acl_denied_total',
    help: 'Publishes and subscriptions refused by the per-device ACL',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  readonly alertsOpened = new Counter({
    name: 'linan_alerts_opened_total',
    help: 'Alerts opened, by priority',
    labelNames: ['priority'] as const,
    registers: [this.registry],
  });
  readonly escalations = new Counter({
    name: 'linan_alert_escalations_total',
    help: 'Alerts escalated because nobody acknowledged in time',
    registers: [this.registry],
  });
  readonly dispatches = new Counter({
    name: 'linan_dispatches_total',
    help: 'Notification attempts, by channel and resulting status',
    labelNames: ['channel', 'status'] as const,
    registers: [this.registry],
  });
  readonly kafkaRequests = new Counter({
    name: 'linan_kafka_requests_total',
    help: 'Requests this process sent to Kafka and had answered, by client (producer, consumer, admin) and API (Produce, Fetch, OffsetCommit, Heartbeat …)',
    labelNames: ['client', 'api'] as const,
    registers: [this.registry],
  });
  readonly consumerRetries = new Counter({
    name: 'linan_consumer_retries_total',
    help: 'Messages a consumer group failed on and will try again (in distributed mode: sent to its retry topic), by group and topic',
    labelNames: ['group', 'topic'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'linan_consumer_dead_letters_total',
    help: "Messages moved to a consumer group's dead-letter topic and never applied (a device event there opened no alert), by group, topic and reason",
    labelNames: ['group', 'topic', 'reason'] as const,
    registers: [this.registry],
  });
  readonly logRestarts = new Counter({
    name: 'linan_consumer_log_restarts_total',
    help: 'Partitions found with a log that ends before the offset stored for them, holds another message at that offset, or is on another Kafka cluster than the one it was stored on (the topic created again, Kafka rebuilt or its data lost): their messages were applied from the new log\'s start',
    labelNames: ['group', 'topic'] as const,
    registers: [this.registry],
  });
  readonly lostMessages = new Counter({
    name: 'linan_consumer_lost_messages_total',
    help: 'Messages the consumer group never applied and Kafka will not give it (removed by retention, or a database restored to before the group\'s position): lost',
    labelNames: ['group', 'topic'] as const,
    registers: [this.registry],
  });
  readonly replayedMessages = new Counter({
    name: 'linan_consumer_replayed_messages_total',
    help: 'Messages the consumer group had applied before its database was restored or failed over to an older state, applied again from Kafka',
    labelNames: ['group', 'topic'] as const,
    registers: [this.registry],
  });
  readonly outboxResent = new Counter({
    name: 'linan_outbox_resent_messages_total',
    help: 'Committed messages the outbox sweeper handed to Kafka because the process that wrote them did not (it stopped, or Kafka did not answer)',
    registers: [this.registry],
  });
  readonly deviceAccountsMissing = new Gauge({
    name: 'linan_device_accounts_missing',
    help: 'Devices with credentials in the registry and no account on the MQTT broker (they cannot connect), as of the last reconciliation by provisioning',
    registers: [this.registry],
  });
  readonly deviceAccountsCompared = new Gauge({
    name: 'linan_device_accounts_compared_timestamp_seconds',
    help: 'When provisioning last compared the MQTT broker\'s device accounts with the registry (Unix time; 0 until it has)',
    registers: [this.registry],
  });
  readonly deviceAccountsRevoked = new Counter({
    name: 'linan_device_accounts_revoked_total',
    help: 'Broker accounts removed by reconciliation because the registry does not know their device or has decommissioned it',
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: 'linan_consumer_lag_messages',
    help: 'Messages published and not yet applied by a consumer group of this process, per topic and partition (retry topics included), read at each scrape',
    labelNames: ['group', 'topic', 'partition'] as const,
    registers: [this.registry],
    collect: () => this.collectLag(),
  });
  readonly healthUp = new Gauge({
    name: 'linan_health_up',
    help: 'Whether each part this app needs answers (the checks of /health: database, kafka, redis, mqtt …): 1 up, 0 down; read at a scrape, at most every 5 s',
    labelNames: ['check'] as const,
    registers: [this.registry],
    collect: () => this.collectHealth(),
  });
  readonly deviceToFirstDispatch = new Histogram({
    name: 'linan_device_to_first_dispatch_seconds',
    help: 'From the device event time to the first dispatch of its alert being recorded',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  private lag: { source: () => Promise<ConsumerLag[]>; log: Logger } | null = null;
  private health: { source: () => Promise<{ name: string; up: boolean }[]>; read: { at: number; checks: { name: string; up: boolean }[] } | null } | null = null;

  private readonly lagTimeoutMs: number;

  constructor(options: { defaultMetrics?: boolean; lagTimeoutMs?: number } = {}) {
    this.lagTimeoutMs = options.lagTimeoutMs ?? LAG_TIMEOUT_MS;
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'linan_' });
  }

  /** A retried or dead-lettered message (the buses' FailureReport). */
  messageFailed(f: MessageFailure): void {
    if (f.outcome === 'retry') this.consumerRetries.inc({ group: f.group, topic: f.topic });
    else this.deadLetters.inc({ group: f.group, topic: f.topic, reason: f.reason });
  }

  /** Where each scrape reads the consumer lag from (the process's message bus). */
  watchConsumerLag(source: () => Promise<ConsumerLag[]>, log: Logger): void {
    this.lag = { source, log };
  }

  /** Where a scrape reads the parts' health from (the app's /health checks; each check bounded in time by the source). */
  watchHealth(source: () => Promise<{ name: string; up: boolean }[]>): void {
    this.health = { source, read: null };
  }

  private async collectHealth(): Promise<void> {
    const h = this.health;
    if (!h) return;
    if (!h.read || Date.now() - h.read.at >= HEALTH_REUSE_MS) h.read = { at: Date.now(), checks: await h.source() };
    this.healthUp.reset();
    for (const c of h.read.checks) this.healthUp.set({ check: c.name }, c.up ? 1 : 0);
  }

  private async collectLag(): Promise<void> {
    this.consumerLag.reset();
    if (!this.lag) return;
    try {
      for (const l of await withTimeout(this.lag.source(), this.lagTimeoutMs, 'consumer lag not known in time')) {
        this.consumerLag.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.messages);
      }
    } catch (err) {
      // the scrape goes on without the lag: the services' own health is on /health
      this.lag.log.warn({ err }, 'consumer lag not known; left out of this scrape');
    }
  }
}
