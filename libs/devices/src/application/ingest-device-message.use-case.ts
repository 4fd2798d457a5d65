import { Injectable } from '@nestjs/common';
import {
  DUPLICATE_WINDOW_MS, MAX_EVENT_PAYLOAD_BYTES, Topics, parseDeviceEvent, parseDeviceTopic,
  type DeviceEventRejected, type RejectReason,
} from '@linan/contracts';
import { Cache, Clock, MessageBus, Metrics, RootLogger, envelope } from '@linan/platform';
import { mayPublish, type Device } from '../domain/device';
import { DevicePresence } from './device-presence';

export type IngestOutcome =
  | { kind: 'accepted'; eventId: string }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; reason: RejectReason; detail: string }
  | { kind: 'presence' };

export interface DeviceMessage {
  /** The authenticated device (null when the broker could not tell who sent it). */
  device: Device | null;
  /** The serial the connection authenticated as. */
  serial: string;
  topic: string;
  payload: Buffer;
}


/**
 * The gateway's decision for one device message: reject with a reason (kept on the rejected-events topic),
 * drop a duplicate, or publish the device event keyed by household. Resolves only when the outcome is durable,
 * so the caller may acknowledge the device afterwards.
 */
@Injectable()
export class IngestDeviceMessageUseCase {
  constructor(
    private readonly bus: MessageBus,
    private readonly cache: Cache,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly presence: DevicePresence,
    private readonly log: RootLogger,
  ) {}

  async execute(msg: DeviceMessage): Promise<IngestOutcome> {
    const now = this.clock.now();
    const route = parseDeviceTopic(msg.topic);
    this.metrics.messagesIn.inc({ channel: route?.channel ?? 'other' });
    if (!msg.device) return this.reject(msg, now, 'unknown_device', 'the device is not registered');
    if (msg.device.status === 'decommissioned') return this.reject(msg, now, 'decommissioned_device', 'the device is decommissioned');
    if (msg.device.status !== 'active' || !msg.device.householdId) {
      return this.reject(msg, now, 'device_not_installed', 'the device is not installed in a household');
    }
    if (!mayPublish(msg.serial, msg.topic) || route?.deviceId !== msg.serial) {
      return this.reject(msg, now, 'topic_mismatch', `device ${msg.serial} may not publish to ${msg.topic}`);
    }
    if (route.channel === 'heartbeat' || route.channel === 'status') {
      // a retained "offline" status is the device's last will
      if (route.channel === 'status' && msg.payload.toString().trim() === 'offline') await this.presence.gone(msg.serial);
      else await this.presence.seen(msg.serial);
      return { kind: 'presence' };
    }
    if (route.channel !== 'events') return this.reject(msg, now, 'unsupported_topic', `devices do not publish to ${route.channel}`);

    const parsed = parseDeviceEvent(msg.payload, now);
    if (!parsed.ok) return this.reject(msg, now, parsed.reason, parsed.detail, parsed.field);
    const e = parsed.value;
    const dedupKey = `dedup:${msg.serial}:${e.id}`;
    if ((await this.seenBefore(dedupKey, now, msg.serial, e.id)) === 'duplicate') {
      this.metrics.duplicates.inc();
      return { kind: 'duplicate' };
    }
    const out = envelope(Topics.deviceEvents, msg.device.householdId, {
      deviceId: msg.device.id, serial: msg.serial, householdId: msg.device.householdId, deviceEventId: e.id, type: e.type,
      state: e.state, deviceTs: e.ts, receivedAt: now, late: e.late, battery: e.battery, signal: e.signal, data: e.data,
    }, { correlationId: `${msg.serial}:${e.id}`, occurredAt: now });
    await this.bus.publish(Topics.deviceEvents, [out]);
    // side by side (one round trip to Redis); each passes over its own failure
    await Promise.all([this.remember(dedupKey, now, msg.serial, e.id), this.presence.seen(msg.serial)]);
    return { kind: 'accepted', eventId: out.headers!.eventId };
  }

  /**
   * The gateway's duplicate check, made before publishing and recorded only after the event is durable: nothing
   * that was not stored can ever be taken for a duplicate of itself. It fails open: when the cache cannot answer,
   * the event is published anyway. Triage is idempotent by device event id, so a duplicate costs nothing (two copies
   * in flight at once both reach triage, which keeps one); a dropped alarm could cost a life.
   */
  private async seenBefore(key: string, now: number, serial: string, eventId: string): Promise<'duplicate' | 'new' | 'unchecked'> {
    try {
      // the key holds when the event was first taken; the window is measured on the platform's clock, like triage's
      const first = await this.cache.get(key);
      return first !== null && now - Number(first) < DUPLICATE_WINDOW_MS ? 'duplicate' : 'new';
    } catch (err) {
      this.metrics.cacheErrors.inc({ op: 'dedup' });
      this.log.warn({ err, deviceId: serial, eventId }, 'duplicate check unavailable (cache error); event published unchecked');
      return 'unchecked';
    }
  }

  /** Marks a published event for DUPLICATE_WINDOW_MS; if the cache cannot take it, a redelivery goes on to triage. */
  private async remember(key: string, now: number, serial: string, eventId: string): Promise<void> {
    try {
      await this.cache.set(key, String(now), DUPLICATE_WINDOW_MS);
    } catch (err) {
      this.metrics.cacheErrors.inc({ op: 'dedup_mark' });
      this.log.warn({ err, deviceId: serial, eventId }, 'event published but not marked for duplicate checks (cache error)');
    }
  }

  /** A refusal is counted and stored on the rejected-events topic, durably, before the device is answered. */
  async reject(
    msg: Pick<DeviceMessage, 'serial' | 'topic' | 'payload'>, now: number, reason: RejectReason, detail: string, field?: string, times = 1,
  ): Promise<IngestOutcome> {
    this.metrics.rejected.inc({ reason }, times);
    const record: DeviceEventRejected = {
      serial: msg.serial, topic: msg.topic, reason, field, detail, receivedAt: now,
      payloadBase64: msg.payload.subarray(0, MAX_EVENT_PAYLOAD_BYTES).toString('base64'),
    };
    await this.bus.publish(Topics.rejectedEvents, [envelope(Topics.rejectedEvents, msg.serial || 'unknown', record, { occurredAt: now })]);
    return { kind: 'rejected', reason, detail };
  }
}
