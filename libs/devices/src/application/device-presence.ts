import { Injectable } from '@nestjs/common';
import { Cache, Clock, Metrics, RootLogger } from '@linan/platform';

export interface Presence {
  online: boolean;
  /** Last time the platform heard from the device (connect, heartbeat, status, event), epoch ms. */
  lastSeenAt: number;
}

/** A connected device stays online this long without a word; three missed heartbeats at the default 300 s. */
export const PRESENCE_TTL_MS = 3 * 300_000;
/** How long an "offline" is remembered, so the installer sees when the device was last heard of. */
const OFFLINE_MEMORY_MS = 7 * 24 * 3600_000;

/**
 * Whether a device is connected and when it was last heard from, kept in the cache (Redis in distributed mode):
 * set on connect, refreshed by heartbeats and events, cleared by a disconnect or an "offline" status (last will).
 *
 * Best effort throughout: it runs inside device ingest, which must never fail because presence could not be
 * written, so a cache failure is logged, counted and passed over. A missed update heals with the next heartbeat.
 */
@Injectable()
export class DevicePresence {
  constructor(
    private readonly cache: Cache,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: RootLogger,
  ) {}

  private key(serial: string): string {
    return `presence:${serial}`;
  }

  seen(serial: string): Promise<void> {
    return this.write(serial, { online: true, lastSeenAt: this.clock.now() }, PRESENCE_TTL_MS);
  }

  gone(serial: string): Promise<void> {
    return this.write(serial, { online: false, lastSeenAt: this.clock.now() }, OFFLINE_MEMORY_MS);
  }

  /** Unknown (null) for a device whose presence cannot be read now: the installer's page still loads. */
  async of(serials: string[]): Promise<Map<string, Presence | null>> {
    // side by side: a Redis that stops answering costs one command timeout for the page, not one per device
    return new Map(await Promise.all(serials.map(async (s): Promise<[string, Presence | null]> => {
      try {
        const v = await this.cache.get(this.key(s));
        return [s, v ? (JSON.parse(v) as Presence) : null];
      } catch (err) {
        this.failed('presence_get', s, err);
        return [s, null];
      }
    })));
  }

  private async write(serial: string, p: Presence, ttlMs: number): Promise<void> {
    try {
      await this.cache.set(this.key(serial), JSON.stringify(p), ttlMs);
    } catch (err) {
      this.failed('presence_set', serial, err);
    }
  }

  private failed(op: string, serial: string, err: unknown): void {
    this.metrics.cacheErrors.inc({ op });
    this.log.warn({ err, deviceId: serial, op }, 'presence not available (cache error); passed over');
  }
}
