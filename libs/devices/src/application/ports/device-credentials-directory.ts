import { DomainError } from '@linan/platform';

/**
 * The broker's own list of device accounts, kept in step with the registry. The embedded broker checks the
 * registry itself and needs none; an external broker (Mosquitto) authenticates devices from its own accounts.
 */
export abstract class DeviceCredentialsDirectory {
  /**
   * Gives the device an account (username = client id = serial, this secret) allowed only its own topics, or
   * replaces the one it has; a live session with the old secret is closed. Idempotent. A device not installed in a
   * household yet gets a disabled account (`enabled: false`): it cannot connect until it is installed.
   */
  abstract upsert(serial: string, secret: string, options?: { enabled?: boolean }): Promise<void>;
  /** Lets an installed device connect (its account was created disabled at registration). Idempotent. */
  abstract enable(serial: string): Promise<void>;
  /** Removes the device's account and closes its live session. Revoking a device with no account succeeds. */
  abstract revoke(serial: string): Promise<void>;
  /** The serials that have an account, for reconciliation; null when there is no separate directory. */
  abstract listSerials(): Promise<string[] | null>;
}

/** The broker did not take a device-account change (unreachable, timed out, or refused): nothing was changed. */
export class DeviceCredentialsError extends DomainError {
  constructor(readonly reason: 'unavailable' | 'refused', message: string, options?: ErrorOptions) {
    super(reason === 'unavailable' ? 'DEVICE.BROKER_UNAVAILABLE' : 'DEVICE.BROKER_REFUSED', 'unavailable', message, undefined, options);
    this.name = 'DeviceCredentialsError';
  }
}
