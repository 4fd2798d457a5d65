import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, HealthRegistry, Metrics, RootLogger } from '@linan/platform';
import { DeviceCredentialsDirectory, MosquittoDeviceCredentials, ReconcileDeviceCredentialsUseCase } from '@linan/devices';

/** How often the accounts are compared with the registry besides after every (re)connection to the broker. */
export const RECONCILE_EVERY_MS = 60 * 60 * 1000;
/**
 * While devices are without an account, or after a comparison that failed, how soon to look again (so the count
 * falls as secrets are rotated, and a failed comparison does not wait for the hourly one).
 */
export const RECHECK_MISSING_MS = 5 * 60 * 1000;

/**
 * With an external broker, provisioning holds the admin connection that keeps device accounts in step with the
 * registry: it reports on /health as `mqtt-admin`, and it reconciles the broker's accounts with the registry (see
 * ReconcileDeviceCredentialsUseCase) each time that connection is ready, at start and after every reconnection (a
 * broker restarted on a volume restored from an old backup has lost accounts), every hour, and every 5 minutes while
 * devices are without an account or after a comparison that failed. Devices left without an account are logged by serial and counted in
 * `linan_device_accounts_missing`, which an alert watches. The app starts without waiting for the broker; registering
 * a device meanwhile fails with DEVICE.BROKER_UNAVAILABLE rather than half-succeeding.
 */
@Injectable()
export class BrokerAccountsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  private readonly log: RootLogger;
  private running: Promise<void> | null = null;
  /** Asked for again while a pass runs: one more pass follows it. */
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  private stopListening: (() => void) | null = null;
  /** How often to compare; set before the app starts (tests shorten them). */
  readonly timings = { everyMs: RECONCILE_EVERY_MS, recheckMissingMs: RECHECK_MISSING_MS };

  constructor(
    private readonly directory: DeviceCredentialsDirectory,
    private readonly reconcile: ReconcileDeviceCredentialsUseCase,
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
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
    this.stopListening = directory.onReady(() => void this.reconcileSoon());
    this.timer = setInterval(() => void this.reconcileSoon(), this.timings.everyMs).unref();
    void this.connect(directory);
  }

  /** The pass under way (or the one just asked for) and any pass asked for meanwhile; for tests. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async connect(directory: MosquittoDeviceCredentials): Promise<void> {
    while (!this.stopped) {
      try {
        await directory.start();
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'MQTT broker not reachable yet for device accounts; retrying');
      }
    }
  }

  /** Starts a reconciliation, or asks for one more after the one running (passes never overlap). */
  private reconcileSoon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.reconcileOnce();
      } while (this.again && !this.stopped);
      this.running = null;
    })();
  }

  private async reconcileOnce(): Promise<void> {
    const lookAgain = (soon: boolean) => {
      if (this.recheck) clearTimeout(this.recheck);
      this.recheck = soon ? setTimeout(() => this.reconcileSoon(), this.timings.recheckMissingMs).unref() : null;
    };
    try {
      // twice the command timeout: a registration whose broker command was sent has committed or failed by then
      const report = await this.reconcile.execute({ graceMs: 2 * this.config.mqtt.adminTimeoutMs });
      if (!report) return;
      this.metrics.deviceAccountsRevoked.inc(report.revoked.length);
      this.metrics.deviceAccountsMissing.set(report.missing.length);
      this.metrics.deviceAccountsCompared.setToCurrentTime();
      lookAgain(report.missing.length > 0);
      if (report.revoked.length) this.log.warn({ count: report.revoked.length, serials: report.revoked.slice(0, 20) }, 'removed broker accounts of unknown or decommissioned devices');
      if (report.missing.length) {
        this.log.error({ count: report.missing.length, serials: report.missing.slice(0, 100) },
          'devices with credentials have no broker account and cannot connect: restore the broker\'s dynamic-security file from a backup, or rotate their secrets');
      }
      this.log.info({ revoked: report.revoked.length, missing: report.missing.length }, 'device accounts reconciled with the registry');
    } catch (err) {
      this.log.error({ err, retryInMs: this.timings.recheckMissingMs }, 'device accounts could not be reconciled with the registry; trying again');
      lookAgain(true);
    }
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.recheck) clearTimeout(this.recheck);
    this.stopListening?.();
  }
}
