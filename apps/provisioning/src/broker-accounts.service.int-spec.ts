import { MosquittoDeviceCredentials, ReconcileDeviceCredentialsUseCase, type Device, type DeviceRepository } from '@linan/devices';
import { HealthRegistry, Metrics, type AppConfig, type RootLogger } from '@linan/platform';
import { eventually, silentLogger, startMosquitto, type RunningMosquitto } from '@linan/testing';
import { BrokerAccountsService } from './broker-accounts.service';

const ADMIN_TIMEOUT_MS = 500;

/** Provisioning's admin connection on the project's Mosquitto: accounts compared with the registry after every (re)connection. */
describe(BrokerAccountsService.name, () => {
  let broker: RunningMosquitto;
  let directory: MosquittoDeviceCredentials;
  let other: MosquittoDeviceCredentials;
  let service: BrokerAccountsService;
  const metrics = new Metrics({ defaultMetrics: false });
  // the registry as reconciliation reads it (the use case on the real registry is tested in libs/devices)
  const registered = new Map<string, Partial<Device>>([['SN-R1', { status: 'active' }], ['SN-R2', { status: 'active' }]]);
  const registry = {
    listSerialsWithCredentials: async () => [...registered.keys()],
    findBySerial: async (serial: string) => (registered.has(serial) ? { serial, secretHash: 'hash', ...registered.get(serial) } : null),
  } as unknown as DeviceRepository;
  const value = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values[0]?.value ?? 0;

  beforeAll(async () => {
    broker = await startMosquitto();
    directory = new MosquittoDeviceCredentials({ url: broker.serviceUrl, clientId: 'linan-provisioning-test', timeoutMs: ADMIN_TIMEOUT_MS }, silentLogger);
    // someone else at the broker: what a restored volume or a hand edit would change behind provisioning's back
    other = new MosquittoDeviceCredentials({ url: broker.serviceUrl, clientId: 'linan-other-admin', timeoutMs: 3000 }, silentLogger);
    const config = { mqtt: { adminTimeoutMs: ADMIN_TIMEOUT_MS } } as AppConfig;
    service = new BrokerAccountsService(directory, new ReconcileDeviceCredentialsUseCase(registry, directory),
      config, metrics, new HealthRegistry(), silentLogger as unknown as RootLogger);
    service.timings.recheckMissingMs = 300;
  });

  afterAll(async () => {
    service?.onApplicationShutdown();
    await Promise.all([directory?.close(), other?.close()]);
    await broker?.stop();
  });

  it('reconciles when its connection is ready and again after the broker restarts, counting devices left without an account until they have one again', async () => {
    await other.upsert('SN-R1', 'secret-1');
    await other.upsert('SN-R2', 'secret-2');

    service.onApplicationBootstrap();
    await directory.start();
    await service.idle();
    expect(await value(metrics.deviceAccountsMissing)).toBe(0);
    expect(await value(metrics.deviceAccountsRevoked)).toBe(0);

    // the broker comes back from an old backup: one device's account is gone, an account nobody registered is there
    await other.revoke('SN-R2');
    await other.upsert('SN-ORPHAN', 'orphan-secret');
    await other.close();
    await broker.restart();

    await eventually(async () => (await value(metrics.deviceAccountsMissing)) === 1, 15_000, 'the lost account counted after the restart');
    await service.idle();
    expect(await value(metrics.deviceAccountsRevoked)).toBe(1);
    expect((await directory.listSerials()).sort()).toEqual(['SN-R1']);
    expect(await metrics.registry.getSingleMetricAsString('linan_device_accounts_missing')).toContain('linan_device_accounts_missing 1');

    // the device's secret is rotated (a new account): the count falls without waiting for the hourly pass
    await directory.upsert('SN-R2', 'secret-2-rotated');
    await eventually(async () => (await value(metrics.deviceAccountsMissing)) === 0, 5_000, 'the count back at 0 after the rotation');
  });
});
