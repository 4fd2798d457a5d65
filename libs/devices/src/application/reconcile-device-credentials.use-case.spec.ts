import { FakeDeviceCredentials } from '../adapters/fake.device-credentials';
import type { DeviceRepository, DeviceWithSecret } from './ports/device.repository';
import { ReconcileDeviceCredentialsUseCase } from './reconcile-device-credentials.use-case';

/** The registry as reconciliation reads it: serial → what findBySerial answers. */
function registry(devices: Map<string, Partial<DeviceWithSecret>>): DeviceRepository {
  return {
    listSerialsWithCredentials: async () => [...devices].filter(([, d]) => d.secretHash && d.status !== 'decommissioned').map(([s]) => s),
    findBySerial: async (serial: string) => (devices.has(serial) ? { serial, ...devices.get(serial) } : null),
  } as unknown as DeviceRepository;
}

describe(ReconcileDeviceCredentialsUseCase.name, () => {
  it('removes accounts of unknown and decommissioned devices, reports registered devices without one', async () => {
    const broker = new FakeDeviceCredentials();
    for (const s of ['SN-1', 'SN-ORPHAN', 'SN-OLD']) broker.accounts.set(s, 'secret');
    const devices = new Map<string, Partial<DeviceWithSecret>>([
      ['SN-1', { status: 'active', secretHash: 'h' }],
      ['SN-2', { status: 'active', secretHash: 'h' }],
      ['SN-OLD', { status: 'decommissioned', secretHash: null }],
    ]);
    const report = await new ReconcileDeviceCredentialsUseCase(registry(devices), broker).execute({ graceMs: 0 });
    expect(report).toEqual({ revoked: ['SN-ORPHAN', 'SN-OLD'], missing: ['SN-2'] });
    expect([...broker.accounts.keys()]).toEqual(['SN-1']);
  });

  it('does not report a device registered between its two reads, nor revoke its account', async () => {
    const broker = new FakeDeviceCredentials();
    const devices = new Map<string, Partial<DeviceWithSecret>>();
    const repo = registry(devices);
    const listRegistry = repo.listSerialsWithCredentials.bind(repo);
    let first = true;
    // the registration lands after the broker's list was read: its account is created, then its row committed
    repo.listSerialsWithCredentials = async () => {
      if (first) {
        first = false;
        broker.accounts.set('SN-NEW', 'secret');
        devices.set('SN-NEW', { status: 'registered', secretHash: 'h' });
      }
      return listRegistry();
    };
    const report = await new ReconcileDeviceCredentialsUseCase(repo, broker).execute({ graceMs: 1 });
    expect(report).toEqual({ revoked: [], missing: [] });
    expect(broker.accounts.has('SN-NEW')).toBe(true);
  });

  it('does not report a device decommissioned meanwhile', async () => {
    const broker = new FakeDeviceCredentials();
    const devices = new Map<string, Partial<DeviceWithSecret>>([['SN-GONE', { status: 'active', secretHash: 'h' }]]);
    const repo = registry(devices);
    const listRegistry = repo.listSerialsWithCredentials.bind(repo);
    let reads = 0;
    repo.listSerialsWithCredentials = async () => {
      const serials = await listRegistry();
      if (++reads === 1) devices.set('SN-GONE', { status: 'decommissioned', secretHash: null });
      return serials;
    };
    expect(await new ReconcileDeviceCredentialsUseCase(repo, broker).execute({ graceMs: 0 })).toEqual({ revoked: [], missing: [] });
  });

  it('has nothing to compare when the broker checks the registry itself (embedded)', async () => {
    const broker = new FakeDeviceCredentials();
    broker.listSerials = async () => null as unknown as string[];
    expect(await new ReconcileDeviceCredentialsUseCase(registry(new Map()), broker).execute({ graceMs: 0 })).toBeNull();
  });
});
