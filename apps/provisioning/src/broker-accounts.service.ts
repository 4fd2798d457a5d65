import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, HealthRegistry, RootLogger } from '@linan/platform';
import { DeviceCredentialsDirectory, MosquittoDeviceCredentials, ReconcileDeviceCredentialsUseCase } from '@linan/devices';

/**
 * With an external broker, provisioning holds the admin connection that keeps device accounts in step with the
 * registry: it reports on /health as `mqtt-admin`, and once connected it reconciles the broker's accounts with the
 * registry (see ReconcileDeviceCredentialsUseCase). The app starts without waiting for the broker; registering a
 * device meanwhile fails with DEVICE.BROKER_UNAVAILABLE rather than half-succeeding.
 */
@Injectable()
export class BrokerAccountsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  private readonly log: RootLogger;

  constructor(
    private readonly directory: DeviceCredentialsDirectory,
    private readonly reconcile: ReconcileDeviceCredentialsUseCase,
    private readonly config: AppConfig,
    health: HealthRegistry,
    log: RootLogger,
  ) {
    this.log = log.child({ component: 'mqtt-admin' }) as RootLogger;
    if (directory instanceof MosquittoDeviceCredentials) {
      health.register('mqtt-admin', async () => ({ up: directory.connected }));
    }
  }

  onApplicationBootstrap(): void {
    const directory = this.directory;
    if (!(directory instanceof MosquittoDeviceCredentials)) return;
    void this.connectThenReconcile(directory);
  }

  private async connectThenReconcile(directory: MosquittoDeviceCredentials): Promise<void> {
    while (!this.stopped) {
      try {
        await directory.start();
        break;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'MQTT broker not reachable yet for device accounts; retrying');
      }
    }
    if (this.stopped) return;
    try {
      // twice the command timeout: a registration whose broker command was sent has committed or failed by then
      const report = await this.reconcile.execute({ graceMs: 2 * this.config.mqtt.adminTimeoutMs });
      if (!report) return;
      if (report.revoked.length) this.log.warn({ count: report.revoked.length, serials: report.revoked.slice(0, 20) }, 'removed broker accounts of unknown or decommissioned devices');
      if (report.missing.length) {
        this.log.error({ count: report.missing.length, serials: report.missing.slice(0, 20) },
          'devices with credentials have no broker account and cannot connect; rotate their secrets to restore them');
      }
      this.log.info({ revoked: report.revoked.length, missing: report.missing.length }, 'device accounts reconciled with the registry');
    } catch (err) {
      this.log.error({ err }, 'device accounts could not be reconciled with the registry');
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
  }
}
