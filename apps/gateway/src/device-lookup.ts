import DataLoader from 'dataloader';
import type { Device, DeviceRepository } from '@linan/devices';

/** Installed devices remembered at most; beyond that the memory starts again empty. */
const MAX_CACHED_DEVICES = 100_000;
/** How long an installed device's registry entry is reused (they change only on install and decommission). */
export const DEVICE_CACHE_MS = 10_000;

/**
 * The registry lookups of one gateway replica, shared by all its MQTT sessions. The lookups its sessions ask for in
 * the same turn of the event loop go to the registry as one query (DataLoader's batching; an SOS button presses too
 * rarely for the memory below to help, so under load this is what saves queries). Installed devices are remembered
 * for DEVICE_CACHE_MS; anything else is read again each time, so an install takes effect at once.
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
