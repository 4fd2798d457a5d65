import WebSocket from 'ws';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

function open(url: string): Promise<{ ws: WebSocket; messages: Record<string, unknown>[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: Record<string, unknown>[] = [];
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('message', (d) => messages.push(JSON.parse(String(d)) as Record<string, unknown>));
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('error', reject);
  });
}

describe('the consoles\' live channel (/ws)', () => {
  let h: Harness;
  let wsUrl: string;
  beforeAll(async () => {
    h = await startHarness();
    wsUrl = `${h.platform.httpUrl.replace('http', 'ws')}/ws`;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('closes with 4401 on a bad token', async () => {
    const c = await open(wsUrl);
    c.ws.send(JSON.stringify({ type: 'auth', token: 'forged' }));
    expect(await c.closed).toBe(4401);
  });

  it('closes with 4401 when the first message is not an authentication', async () => {
    const c = await open(wsUrl);
    c.ws.send('hello?');
    expect(await c.closed).toBe(4401);
  });

  it('refuses an installer\'s token', async () => {
    const c = await open(wsUrl);
    c.ws.send(JSON.stringify({ type: 'auth', token: await h.tokenFor('installer') }));
    expect(await c.closed).toBe(4401);
  });

  it('pushes the alert and the operators\' notice when a device raises SOS, only to consoles of that district', async () => {
    const mine = await open(wsUrl);
    mine.ws.send(JSON.stringify({ type: 'auth', token: h.adminToken }));
    const elsewhere = await open(wsUrl);
    elsewhere.ws.send(JSON.stringify({ type: 'auth', token: await h.tokenFor('operator', '湖里区') }));
    await eventually(() => mine.messages.some((m) => m.type === 'hello') && elsewhere.messages.some((m) => m.type === 'hello'), 5000, 'hello');

    const home = await seedHome(h, { aides: 1 });
    const device = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    await publishQos1(device, `devices/${home.serial}/events`, sosEvent('live-1'));
    device.end();
    const opened = await eventually(() => mine.messages.find((m) => m.type === 'alert.changed' && m.kind === 'alert_opened'), 5000, 'alert.changed');
    expect(opened).toMatchObject({ householdId: home.householdId, priority: 'P1', status: 'open', district: '思明区' });
    const notice = await eventually(() => mine.messages.find((m) => m.type === 'operator.notice'), 5000, 'operator.notice');
    expect(notice).toMatchObject({ alertId: opened.alertId, priority: 'P1', alertType: 'sos', householdName: '张三丰', community: '莲花社区' });
    await new Promise((r) => setTimeout(r, 200));
    expect(elsewhere.messages.filter((m) => m.type !== 'hello')).toEqual([]);
    mine.ws.close();
    elsewhere.ws.close();
  });
});
