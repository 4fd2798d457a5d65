import { Injectable } from '@nestjs/common';
import { DeviceRepository } from './ports/device.repository';
import { DeviceCredentialsDirectory } from './ports/device-credentials-directory';

export interface ReconcileReport {
  /** Broker accounts of devices the registry does not know, or knows as decommissioned: removed. */
  revoked: string[];
  /** Devices with credentials in the registry but no broker account: they cannot connect until their secret is rotated. */
  missing: string[];
}

/**
 * Makes the broker's device accounts agree with the registry after anything that may have split them (a commit
 * that failed after the broker took a change, a restored broker volume). Accounts are only ever removed here: the
 * registry keeps secrets as hashes, so a missing account cannot be recreated, only reported for rotation.
 */
@Injectable()
export class ReconcileDeviceCredentialsUseCase {
  constructor(private readonly devices: DeviceRepository, private readonly credentials: DeviceCredentialsDirectory) {}

  /**
   * `graceMs`: an account the registry does not know may belong to a registration still committing (its broker
   * account is written inside the transaction), so it is checked again after this long before it is removed; and a
   * device registered between the two lists (broker first, registry second) is looked for again after it too, so it
   * is not reported missing.
   */
  async execute(options: { graceMs: number }): Promise<ReconcileReport | null> {
    const inBroker = await this.credentials.listSerials();
    if (!inBroker) return null;
    const inRegistry = new Set(await this.devices.listSerialsWithCredentials());
    const candidates = inBroker.filter((s) => !inRegistry.has(s));
    const brokerSet = new Set(inBroker);
    let missing = [...inRegistry].filter((s) => !brokerSet.has(s));
    if ((candidates.length || missing.length) && options.graceMs > 0) await new Promise((r) => setTimeout(r, options.graceMs));
    const revoked: string[] = [];
    for (const serial of candidates) {
      const d = await this.devices.findBySerial(serial);
      if (d && d.status !== 'decommissioned' && d.secretHash) continue;
      await this.credentials.revoke(serial);
      revoked.push(serial);
    }
    if (missing.length) {
      const brokerNow = new Set((await this.credentials.listSerials()) ?? []);
      const registryNow = new Set(await this.devices.listSerialsWithCredentials());
      missing = missing.filter((s) => !brokerNow.has(s) && registryNow.has(s));
    }
    return { revoked, missing };
  }
}
