import { z } from 'zod';

/** Event types a device may report (device protocol v1). */
export const DEVICE_EVENT_TYPES = [
  'smoke', 'sos', 'fall', 'gas', 'water', 'inactivity', 'test',
  'low_battery', 'tamper', 'fault', 'power_loss', 'power_restored',
] as const;
export type DeviceEventType = (typeof DEVICE_EVENT_TYPES)[number];

export const MAX_EVENT_PAYLOAD_BYTES = 4096;
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
export const LATE_AFTER_MS = 24 * 60 * 60 * 1000;
export const DUPLICATE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Why the platform refused a device message. Stable codes: they appear in metrics and in the rejected-events topic. */
export const REJECT_REASONS = [
  'not_json', 'too_large', 'missing_field', 'invalid_field', 'unknown_type', 'future_timestamp',
  'unknown_device', 'decommissioned_device', 'device_not_installed', 'topic_mismatch', 'unsupported_topic',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

const eventSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, '1–64 characters of A-Z a-z 0-9 . _ : -'),
  type: z.string(),
  state: z.enum(['alarm', 'clear']).optional(),
  ts: z.union([
    z.number().int().nonnegative(),
    z.number().nonnegative(),
    z.string().regex(ISO_WITH_OFFSET, 'ISO-8601 with an offset'),
  ]),
  battery: z.number().min(0).max(100).optional(),
  signal: z.number().min(-140).max(0).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export interface DeviceEventPayload {
  id: string;
  type: DeviceEventType;
  state: 'alarm' | 'clear';
  /** Device time, epoch milliseconds (fractions kept). */
  ts: number;
  battery?: number;
  signal?: number;
  data?: Record<string, unknown>;
  /** Older than 24 h when received: accepted and flagged. */
  late: boolean;
}

export type ParseResult<T> =
  | { ok: true; value: T }
  | { ok: false; reason: RejectReason; field?: string; detail: string };

/** Parses and checks one `devices/{id}/events` payload. Pure: `now` is the platform's receive time. */
export function parseDeviceEvent(raw: Buffer | string, now: number): ParseResult<DeviceEventPayload> {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > MAX_EVENT_PAYLOAD_BYTES) {
    return { ok: false, reason: 'too_large', detail: `payload is ${size} bytes, the limit is ${MAX_EVENT_PAYLOAD_BYTES}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, reason: 'not_json', detail: 'payload is not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'not_json', detail: 'payload must be a JSON object' };
  }
  const parsed = eventSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.') || undefined;
    const missing = field !== undefined && (json as Record<string, unknown>)[String(issue.path[0])] === undefined;
    return {
      ok: false,
      reason: missing ? 'missing_field' : 'invalid_field',
      field,
      detail: missing ? `field "${field}" is required` : `field "${field}": ${issue.message}`,
    };
  }
  const p = parsed.data;
  if (!(DEVICE_EVENT_TYPES as readonly string[]).includes(p.type)) {
    return { ok: false, reason: 'unknown_type', field: 'type', detail: `unknown event type "${p.type}"` };
  }
  const ts = typeof p.ts === 'number' ? p.ts : Date.parse(p.ts);
  if (!Number.isFinite(ts)) {
    return { ok: false, reason: 'invalid_field', field: 'ts', detail: 'field "ts" is not a valid time' };
  }
  if (ts - now > MAX_FUTURE_SKEW_MS) {
    return { ok: false, reason: 'future_timestamp', field: 'ts', detail: '"ts" is more than 24 h in the future' };
  }
  return {
    ok: true,
    value: {
      id: p.id, type: p.type as DeviceEventType, state: p.state ?? 'alarm', ts,
      battery: p.battery, signal: p.signal, data: p.data, late: now - ts > LATE_AFTER_MS,
    },
  };
}

/** Topic helpers for the device side of the broker. */
export const DEVICE_TOPIC = /^devices\/([^/]+)\/(events|heartbeat|status|commands)$/;

export function parseDeviceTopic(topic: string): { deviceId: string; channel: 'events' | 'heartbeat' | 'status' | 'commands' } | null {
  const m = DEVICE_TOPIC.exec(topic);
  return m ? { deviceId: m[1], channel: m[2] as 'events' | 'heartbeat' | 'status' | 'commands' } : null;
}
