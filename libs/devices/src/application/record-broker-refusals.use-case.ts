import { Injectable } from '@nestjs/common';
import { Clock, Metrics, RootLogger } from '@linan/platform';
import type { ConnectRefusal } from '../domain/device';
import { AuthenticateDeviceUseCase } from './authenticate-device.use-case';
import { IngestDeviceMessageUseCase } from './ingest-device-message.use-case';

const REASON_TTL_MS = 60_000;
const REASONS_KEPT = 10_000;

/**
 * What the external broker (Mosquitto, through the project's plugin) reports of a device's packets and connections it
 * refused: gathered per device and action over about a second.
 */
export interface BrokerRefusal {
  /** The device's serial (for a connection, the user name it tried); empty in an `overflow` report. */
  clientId: string;
  action: 'publish' | 'subscribe' | 'connect';
  count: number;
  /** The first topic refused in the interval (publish, subscribe). */
  topic: string;
  /** That publish's payload, at most 4096 bytes, base64. */
  payloadBase64?: string;
  /** The refusals of devices beyond the plugin's list for one interval, not named. */
  overflow?: boolean;
}

/**
 * Refusals the external broker made, counted and kept as the embedded broker counts and keeps its own: a refused
 * connection by its reason (which the registry tells), a packet outside the device's topics as an ACL refusal, and a
 * refused publish as a rejected message too, whose first is kept on the rejected-events topic with its payload.
 * Resolves once that record is durable, so the report may be acknowledged.
 */
@Injectable()
export class RecordBrokerRefusalsUseCase {
  /**
   * The registry's reason per serial for a minute: a device that keeps retrying is reported every second, and a broker
   * restored from an old backup refuses many devices at once; each would otherwise cost a registry query a second.
   */
  private readonly reasons = new Map<string, { reason: ConnectRefusal; until: number }>();

  constructor(
    private readonly ingest: IngestDeviceMessageUseCase,
    private readonly auth: AuthenticateDeviceUseCase,
    private readonly metrics: Metrics,
    private readonly clock: Clock,
    private readonly log: RootLogger,
  ) {}

  async execute(r: BrokerRefusal): Promise<void> {
    const deviceId = r.overflow ? undefined : r.clientId || undefined;
    if (r.action === 'connect') {
      const reason = r.overflow ? 'unclassified' : await this.reasonFor(r.clientId);
      this.metrics.connectRefused.inc({ reason }, r.count);
      this.log.warn({ deviceId, reason, count: r.count }, r.overflow ? 'the broker refused connections of more devices' : 'the broker refused connections of a device');
      return;
    }
    this.metrics.aclDenied.inc({ action: r.action }, r.count);
    this.log.warn({ deviceId, action: r.action, count: r.count, topic: r.topic },
      r.overflow ? 'the broker refused packets of more devices outside their own topics' : 'the broker refused packets of a device outside its own topics');
    if (r.action !== 'publish') return;
    const what = r.count > 1 ? `${r.count} publishes, the first to ${r.topic}` : `a publish to ${r.topic}`;
    const who = r.overflow ? 'devices beyond the broker\'s list' : `device ${r.clientId}`;
    await this.ingest.reject({ serial: r.overflow ? '' : r.clientId, topic: r.topic, payload: Buffer.from(r.payloadBase64 ?? '', 'base64') }, this.clock.now(),
      'topic_mismatch', `the broker refused ${what}: ${who} may publish only under its own topics`, undefined, r.count);
  }

  private async reasonFor(serial: string): Promise<ConnectRefusal> {
    const now = this.clock.now();
    const known = this.reasons.get(serial);
    if (known && known.until > now) return known.reason;
    const reason = await this.auth.refusalOf(serial);
    if (this.reasons.size >= REASONS_KEPT) this.reasons.clear();
    this.reasons.set(serial, { reason, until: now + REASON_TTL_MS });
    return reason;
  }
}
