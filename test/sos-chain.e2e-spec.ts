import { FakeSmsSender, SmsSender } from '@linan/dispatch';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

describe.each(['main', 'worker'])('SOS press → alert → aides notified (embedded database on the %s thread)', (thread) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ EMBEDDED_DB_THREAD: thread });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('opens a P1 alert, texts the on-duty aides and the family, and shows every step on the timeline', async () => {
    const home = await seedHome(h, { aides: 2 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('e1'));
    device.end();

    const alert = await eventually(async () => {
      const r = await h.http().get(`/api/v1/alerts?householdId=${home.householdId}`).auth(h.adminToken, { type: 'bearer' }).expect(200);
      return r.body.items.find((a: { status: string }) => a.status === 'dispatched');
    }, 10_000, 'a dispatched alert');
    expect(alert).toMatchObject({ type: 'sos', priority: 'P1', householdId: home.householdId, deviceId: home.deviceId });

    const detail = (await h.http().get(`/api/v1/alerts/${alert.id}`).auth(h.adminToken, { type: 'bearer' }).expect(200)).body;
    const kinds = detail.timeline.map((t: { kind: string }) => t.kind);
    expect(kinds.slice(0, 2)).toEqual(['event_received', 'alert_opened']);
    expect(kinds.filter((k: string) => k === 'dispatch_sent').length).toBeGreaterThanOrEqual(3);
    expect(detail.household.name).toBe('张三丰');

    const sms = (h.platform.app.get(SmsSender) as FakeSmsSender).messages().filter((m) => m.text.includes(alert.id.slice(0, 8)));
    expect(sms.map((m) => m.to).sort()).toEqual(['13700001000', '13700001001', '13900001111']);
    expect(sms.every((m) => !m.text.includes('张三丰') && !m.text.includes('3单元502'))).toBe(true);

    const dispatches = (await h.http().get(`/api/v1/dispatches?alertId=${alert.id}`).auth(h.adminToken, { type: 'bearer' }).expect(200)).body.items;
    expect(dispatches.filter((d: { channel: string; status: string }) => d.channel === 'sms' && d.status === 'sent')).toHaveLength(3);
    expect(dispatches.every((d: { attempts: number }) => d.attempts >= 1)).toBe(true);
  });
});
