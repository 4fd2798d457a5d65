import DataLoader from 'dataloader';
import type { Device, DeviceRepository } from '@linan/devices';

/** Installed devices remembered at most; beyond that the memory starts again empty. */
const MAX_CACHED_DEVICES = 100_000;
/**
 * How long an installed device's registry entry is reused: two default heartbeat periods (300 s), so a device that
 * is alive is found in memory when it presses, not in the database. An installed device's entry changes only when it
 * is decommissioned, and that revokes its broker account and closes its session first, so it cannot publish
 * anything the stale entry would let in (what it sent before is taken, as it was sent while installed).
 */
export const DEVICE_CACHE_MS = 10 * 60_000;

/**
 * The registry lookups of one gateway replica, shared by all its MQTT sessions. The lookups its sessions ask for in
 * the same turn of the event loop go to the registry as one query (DataLoader's batching: after a restart every
 * device's first message is a lookup). Installed devices are remembered for DEVICE_CACHE_MS; anything else is read
 * again each time, so an install takes effect at once.
 */
export class DeviceLookup {
  private readonly remembered = new Map<string, { device: Device; until: number }>();
  private readonly loader: DataLoader<string, Device | null>;

  constructor(
    registry: Pick<DeviceRepository, 'findBySerials'>,
    private readonly cacheMs = DEVICE_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.loader = new DataLoader(async (serials) => {
      const found = new Map((await registry.findBySerials(serials)).map(({ secretHash: _secret, ...d }) => [d.serial, d]));
      return serials.map((s) => found.get(s) ?? null);
    }, { cache: false, maxBatchSize: 500 });
  }

  async find(serial: string): Promise<Device | null> {
    const hit = this.remembered.get(serial);
    if (hit && hit.until > this.now()) return hit.device;
    const device = await this.loader.load(serial);
    if (device?.status === 'active') {
      if (this.remembered.size >= MAX_CACHED_DEVICES) this.remembered.clear();
      this.remembered.set(serial, { device, until: this.now() + this.cacheMs });
    }
    return device;
  }
}
