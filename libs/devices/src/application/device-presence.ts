import { Injectable } from '@nestjs/common';
import { Cache, Clock } from '@linan/platform';

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
 */
@Injectable()
export class DevicePresence {
  constructor(private readonly cache: Cache, private readonly clock: Clock) {}

  private key(serial: string): string {
    return `presence:${serial}`;
  }

  seen(serial: string): Promise<void> {
    return this.cache.set(this.key(serial), JSON.stringify({ online: true, lastSeenAt: this.clock.now() }), PRESENCE_TTL_MS);
  }

  gone(serial: string): Promise<void> {
    return this.cache.set(this.key(serial), JSON.stringify({ online: false, lastSeenAt: this.clock.now() }), OFFLINE_MEMORY_MS);
  }

  async of(serials: string[]): Promise<Map<string, Presence | null>> {
    const out = new Map<string, Presence | null>();
    for (const s of serials) {
      const v = await this.cache.get(this.key(s));
      out.set(s, v ? (JSON.parse(v) as Presence) : null);
    }
    return out;
  }
}
