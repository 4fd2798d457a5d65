import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    help: 'Cache (Redis) calls that failed and were passed over: dedup fails open, presence is best effort; by operation',
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
  readonly deviceToFirstDispatch = new Histogram({
    name: 'linan_device_to_first_dispatch_seconds',
    help: 'From the device event time to the first dispatch of its alert being recorded',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'linan_' });
  }
}
