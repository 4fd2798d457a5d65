import { Injectable } from '@nestjs/common';
import { DeviceCredentialsDirectory } from '../application/ports/device-credentials-directory';

/**
 * Embedded mode: the in-process broker (aedes) authenticates devices against the registry itself, so there is
 * no second list of accounts to keep in step.
 */
@Injectable()
export class EmbeddedDeviceCredentials extends DeviceCredentialsDirectory {
  async upsert(): Promise<void> {}
  async enable(): Promise<void> {}
  async revoke(): Promise<void> {}
  async listSerials(): Promise<null> {
    return null;
  }
}
