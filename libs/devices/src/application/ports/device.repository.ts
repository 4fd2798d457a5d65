import type { Device } from '../../domain/device';

export interface DeviceWithSecret extends Device {
  secretHash: string | null;
}

export abstract class DeviceRepository {
  /** Throws DomainError DEVICE.DUPLICATE_SERIAL when the serial exists. */
  abstract insert(device: DeviceWithSecret): Promise<void>;
  abstract findById(id: string): Promise<Device | null>;
  abstract findBySerial(serial: string): Promise<DeviceWithSecret | null>;
  /** The devices among `serials` that exist, in no particular order (the gateway's lookups of one moment, together). */
  abstract findBySerials(serials: readonly string[]): Promise<DeviceWithSecret[]>;
  abstract update(id: string, patch: Partial<Pick<DeviceWithSecret, 'status' | 'householdId' | 'installedAt' | 'decommissionedAt' | 'secretHash'>>): Promise<void>;
  abstract listByHousehold(householdId: string): Promise<Device[]>;
  /** Serials of devices that hold MQTT credentials now (a secret, not decommissioned): those the broker must know. */
  abstract listSerialsWithCredentials(): Promise<string[]>;
}

/** Tells the MQTT side that a device's credentials changed, so live sessions using old ones are closed. */
export abstract class DeviceSessionControl {
  abstract disconnect(serial: string, reason: string): Promise<void>;
}
