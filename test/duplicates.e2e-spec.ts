import { ShiftedClock } from '@linan/platform';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

const bearer = { type: 'bearer' as const };
const DAY = 24 * 3600_000;

describe('duplicate window', () => {
  const clock = new ShiftedClock();
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { clock });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('the same event id within 24 h is a duplicate; after 24 h it is a new event', async () => {
    const home = await seedHome(h, { aides: 1 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    const alert = async () => {
      const r = await h.http().get(`/api/v1/alerts?householdId=${home.householdId}`).auth(h.adminToken, bearer).expect(200);
      return r.body.items[0] as { id: string; eventCount: number } | undefined;
    };
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('same-id', clock.now()));
    await eventually(alert, 5000, 'the alert');
    clock.offsetMs = 23 * 3600_000;
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('same-id', clock.now()));
    await new Promise((r) => setTimeout(r, 300));
    expect((await alert())!.eventCount).toBe(1);

    clock.offsetMs = DAY + 3600_000;
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('same-id', clock.now()));
    device.end();
    const after = await eventually(async () => {
      const a = await alert();
      return a && a.eventCount === 2 ? a : undefined;
    }, 5000, 'the reused id attached as a new event');
    expect(after.eventCount).toBe(2);
  });
});
