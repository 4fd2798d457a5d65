import { z } from 'zod';
import type { BrokerRefusal } from '../../application/record-broker-refusals.use-case';

/**
 * Where the project's Mosquitto plugin (deploy/mosquitto/plugin, `plugin_opt_report_topic` in mosquitto.conf) reports
 * the connections Mosquitto refused and the packets it refused because a device published or subscribed outside its
 * own topics. The gateways take it through their shared subscription, so each report is counted by one replica.
 */
export const BROKER_REFUSALS_TOPIC = 'linan/broker/acl-denied';

const refusal = z.object({
  /** The device (its serial; for a connection, the user name it tried); empty in an `overflow` report. */
  clientId: z.string().max(128),
  action: z.enum(['publish', 'subscribe', 'connect']),
  /** Refusals of this device and action since the previous report (the plugin reports at most once a second). */
  count: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** The first topic refused in the interval. */
  topic: z.string().max(1024),
  /** That publish's payload, its first 4096 bytes in base64. */
  payloadBase64: z.string().max(5464).regex(/^[A-Za-z0-9+/]*={0,2}$/).optional(),
  /** The refusals of devices beyond the plugin's list for one interval (not named). */
  overflow: z.literal(true).optional(),
});

/** A report's payload, or null when it is not one (the topic is the platform's, but a report is never trusted blindly). */
export function parseBrokerRefusal(payload: Buffer): BrokerRefusal | null {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return null;
  }
  const r = refusal.safeParse(json);
  return r.success ? (r.data satisfies BrokerRefusal) : null;
}
