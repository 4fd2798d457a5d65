import { FakeSmsSender, SmsSender } from '@linan/dispatch';
import { connectDevice, eventually, publishQos1, seedHome, sosEvent, startHarness, type Harness } from '@linan/testing';

const bearer = { type: 'bearer' as const };

describe('no acknowledgement in time → escalation', () => {
  let h: Harness;
  beforeAll(async () => {
    // a short clock for the test; production default is 60 s
    h = await startHarness({ ESCALATION_ACK_TIMEOUT_S: '0.6', ESCALATION_MAX_ROUNDS: '1', TIMER_POLL_MS: '50' });
  });
  afterAll(async () => {
    await h?.close();
  });

  const press = async (aides: number) => {
    const home = await seedHome(h, { aides });
    const c = await connectDevice(h.platform.mqttUrl, home.serial, home.password);
    await publishQos1(c, `devices/${home.serial}/events`, sosEvent('esc-1'));
    c.end();
    const alert = await eventually(async () => {
      const r = await h.http().get(`/api/v1/alerts?householdId=${home.householdId}`).auth(h.adminToken, bearer).expect(200);
      return r.body.items[0] as { id: string } | undefined;
    }, 5000, 'the alert');
    return { home, alert };
  };
  const detail = async (id: string) => (await h.http().get(`/api/v1/alerts/${id}`).auth(h.adminToken, bearer).expect(200)).body;

  it('calls the next aides and the operators when nobody acknowledges, then keeps reminding the operators', async () => {
    const { home, alert } = await press(5);
    const escalated = await eventually(async () => {
      const d = await detail(alert.id);
      return d.timeline.filter((t: { kind: string }) => t.kind === 'escalated').length >= 2 ? d : undefined;
    }, 8000, 'two escalations');
    expect(escalated.status).toBe('escalated');
    const rounds = escalated.timeline.filter((t: { kind: string }) => t.kind === 'escalated').map((t: { details: { round: number; callAides: boolean } }) => t.details);
    expect(rounds.slice(0, 2)).toEqual([expect.objectContaining({ round: 1, callAides: true }), expect.objectContaining({ round: 2, callAides: false })]);
    const aideDispatches = escalated.dispatches.filter((d: { recipientKind: string }) => d.recipientKind === 'aide');
    const byRound = (r: number) => aideDispatches.filter((d: { round: number }) => d.round === r).map((d: { recipientId: string }) => d.recipientId);
    expect(byRound(0)).toHaveLength(3);
    expect(byRound(1)).toHaveLength(2);
    expect(byRound(1).some((id: string) => byRound(0).includes(id))).toBe(false);
    expect(byRound(2)).toHaveLength(0);
    expect(new Set([...byRound(0), ...byRound(1)])).toEqual(new Set(home.aideIds));
    const sms = (h.platform.app.get(SmsSender) as FakeSmsSender).messages().filter((m) => m.text.includes(alert.id.slice(0, 8)) && m.text.includes('升级'));
    expect(sms).toHaveLength(2);
  });

  it('an acknowledgement stops the clock: no escalation afterwards', async () => {
    const { alert } = await press(2);
    await h.http().post(`/api/v1/alerts/${alert.id}/acknowledge`).auth(h.adminToken, bearer).expect(200);
    await new Promise((r) => setTimeout(r, 1500));
    const d = await detail(alert.id);
    expect(d.status).toBe('acknowledged');
    expect(d.timeline.filter((t: { kind: string }) => t.kind === 'escalated')).toHaveLength(0);
  });
});
