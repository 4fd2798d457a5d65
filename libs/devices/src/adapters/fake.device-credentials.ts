import { DeviceCredentialsDirectory, DeviceCredentialsError } from '../application/ports/device-credentials-directory';

/** For tests: keeps accounts in a map, records every call, and fails the next calls on command. */
export class FakeDeviceCredentials extends DeviceCredentialsDirectory {
  readonly accounts = new Map<string, string>();
  readonly calls: { op: 'upsert' | 'revoke' | 'enable'; serial: string }[] = [];
  readonly disabled = new Set<string>();
  private failures = 0;

  /** The next `times` upserts or revokes throw as an unreachable broker would. */
  failNext(times = 1): void {
    this.failures = times;
  }

  private maybeFail(): void {
    if (this.failures > 0) {
      this.failures--;
      throw new DeviceCredentialsError('unavailable', 'fake broker unavailable');
    }
  }

  async upsert(serial: string, secret: string, options: { enabled?: boolean } = {}): Promise<void> {
    this.calls.push({ op: 'upsert', serial });
    this.maybeFail();
    this.accounts.set(serial, secret);
    if (options.enabled === false) this.disabled.add(serial);
    else this.disabled.delete(serial);
  }

  async enable(serial: string): Promise<void> {
    this.calls.push({ op: 'enable', serial });
    this.maybeFail();
    this.disabled.delete(serial);
  }

  async revoke(serial: string): Promise<void> {
    this.calls.push({ op: 'revoke', serial });
    this.maybeFail();
    this.accounts.delete(serial);
  }

  async listSerials(): Promise<string[]> {
    return [...this.accounts.keys()];
  }
}
