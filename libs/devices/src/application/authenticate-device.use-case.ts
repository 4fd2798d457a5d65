import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PasswordHasher } from '@linan/auth';
import { connectRefusal, type ConnectRefusal, type Device } from '../domain/device';
import { DeviceRepository, type DeviceWithSecret } from './ports/device.repository';

export type DeviceAuthResult = { ok: true; device: Device } | { ok: false; reason: ConnectRefusal };

/**
 * Checks a device's MQTT credentials against the registry. A verified (serial, secret hash, password digest)
 * triple is remembered, so a reconnect storm does not cost one scrypt per device; a changed hash (rotation,
 * decommissioning) never matches a remembered triple.
 */
@Injectable()
export class AuthenticateDeviceUseCase {
  private readonly verified = new Map<string, string>();

  constructor(private readonly devices: DeviceRepository, private readonly hasher: PasswordHasher) {}

  async execute(input: { clientId: string; username?: string; password?: Buffer | string }): Promise<DeviceAuthResult> {
    if (!input.username || input.password === undefined || input.username !== input.clientId) return { ok: false, reason: 'bad_credentials' };
    const device = await this.devices.findBySerial(input.username);
    const refused = refusalBeforePassword(device);
    // (a device without a secret is refused above; the second test only tells TypeScript so)
    if (refused || !device?.secretHash) return { ok: false, reason: refused ?? 'no_mqtt_credentials' };
    const password = input.password.toString();
    const digest = createHash('sha256').update(`${device.secretHash}\0${password}`).digest('base64');
    if (this.verified.get(device.serial) !== digest) {
      if (!(await this.hasher.verify(password, device.secretHash))) return { ok: false, reason: 'bad_credentials' };
      this.verified.set(device.serial, digest);
    }
    const refusal = connectRefusal(device);
    if (refusal) return { ok: false, reason: refusal };
    const { secretHash: _s, ...plain } = device;
    return { ok: true, device: plain };
  }

  /**
   * Why the external broker (which checked the password itself) most likely refused a CONNECT with this user name:
   * what the registry says of the serial, and a wrong secret or client id when it has nothing against the device.
   */
  async refusalOf(username: string): Promise<ConnectRefusal> {
    if (!username) return 'bad_credentials';
    const device = await this.devices.findBySerial(username);
    return refusalBeforePassword(device) ?? connectRefusal(device) ?? 'bad_credentials';
  }
}

/** What refuses a device whatever its password: unknown, decommissioned, or without MQTT credentials. */
function refusalBeforePassword(device: DeviceWithSecret | null): ConnectRefusal | null {
  if (!device) return 'unknown_device';
  if (device.status === 'decommissioned') return 'decommissioned_device';
  if (!device.secretHash) return 'no_mqtt_credentials';
  return null;
}
