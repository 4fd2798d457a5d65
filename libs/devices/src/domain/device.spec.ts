import { connectRefusal, mayPublish, maySubscribe, type Device } from './device';

const device = (over: Partial<Device> = {}): Device => ({
  id: 'd1', serial: 'SOS-1', type: 'sos', model: null, protocol: 'native', attributes: {}, status: 'active', householdId: 'h1',
  registeredAt: new Date(0), installedAt: new Date(0), decommissionedAt: null, ...over,
});

describe('device ACL', () => {
  it.each([
    ['devices/SOS-1/events', true],
    ['devices/SOS-1/heartbeat', true],
    ['devices/SOS-2/events', false],
    ['devices/SOS-1', false],
    ['devices/SOS-1/', false],
    ['other/SOS-1/events', false],
  ])('publish to %s → %s', (topic, allowed) => expect(mayPublish('SOS-1', topic)).toBe(allowed));

  it.each([
    ['devices/SOS-1/commands', true],
    ['devices/SOS-2/commands', false],
    ['devices/+/commands', false],
    ['devices/#', false],
    ['devices/SOS-1/#', false],
  ])('subscribe to %s → %s', (filter, allowed) => expect(maySubscribe('SOS-1', filter)).toBe(allowed));
});

describe(connectRefusal.name, () => {
  it('lets an installed device in', () => expect(connectRefusal(device())).toBeNull());
  it('refuses an unknown device', () => expect(connectRefusal(null)).toBe('unknown_device'));
  it('refuses a decommissioned device', () => expect(connectRefusal(device({ status: 'decommissioned' }))).toBe('decommissioned_device'));
  it('refuses a device not yet installed', () => expect(connectRefusal(device({ status: 'registered', householdId: null }))).toBe('device_not_installed'));
});
