import { randomUUID } from 'node:crypto';
import { DUPLICATE_WINDOW_MS, type DeviceEventReceived, type DispatchRequested, type Envelope } from '@linan/contracts';
import { ConcurrentEventError, DeviceEventLog, HandleDeviceEventUseCase } from '@linan/alerting';
import { HandleDispatchRequestUseCase } from '@linan/dispatch';
import { Database, PermanentMessageError } from '@linan/platform';
import { seedHome, startHarness, type Harness, type SeededHome } from '@linan/testing';

const env = <T>(payload: T): Envelope<T> => {
  const eventId = randomUUID();
  return { eventId, occurredAt: new Date().toISOString(), correlationId: eventId, schemaVersion: 1, payload };
};

describe('set-based batches', () => {
  let h: Harness;
  let home: SeededHome;
  beforeAll(async () => {
    // a long clock so nothing escalates on its own while the test drives the use cases directly
    h = await startHarness({ ESCALATION_ACK_TIMEOUT_S: '600' });
    // round 0 calls three of them, each escalation round the next two
    home = await seedHome(h, { aides: 7 });
  });
  afterAll(async () => {
    await h?.close();
  });

  const event = (id: string, type: DeviceEventReceived['type'], over: Partial<DeviceEventReceived> = {}): DeviceEventReceived => ({
    deviceId: home.deviceId, serial: home.serial, householdId: home.householdId, deviceEventId: id, type, state: 'alarm',
    deviceTs: Date.now(), receivedAt: Date.now(), late: false, ...over,
  });

  it('triage: one batch opens, attaches, drops duplicates and keeps types apart, exactly as one by one would', async () => {
    const triage = h.platform.app.get(HandleDeviceEventUseCase);
    const first = env(event('b-1', 'sos'));
    const outcomes = await triage.executeBatch([
      first,
      env(event('b-2', 'sos')),
      env(event('b-1', 'sos')),
      env(event('b-3', 'fall')),
      env(event('b-4', 'test')),
    ]);
    expect(outcomes).toEqual(['opened', 'attached', 'duplicate', 'opened', 'recorded']);
    expect(await triage.executeBatch([first])).toEqual(['duplicate']);

    const db = h.platform.app.get(Database);
    const alerts = await db.query<{ type: string; event_count: number }>('SELECT type, event_count FROM alerts WHERE household_id = $1 ORDER BY type', [home.householdId]);
    expect(alerts).toEqual([{ type: 'fall', event_count: 1 }, { type: 'sos', event_count: 2 }]);
    const linked = await db.query<{ device_event_id: string; alert_id: string | null }>(
      'SELECT device_event_id, alert_id FROM device_events WHERE device_id = $1 ORDER BY device_event_id', [home.deviceId]);
    expect(linked.map((r) => [r.device_event_id, r.alert_id !== null])).toEqual([['b-1', true], ['b-2', true], ['b-3', true], ['b-4', false]]);
  });

  it('triage: device events are new once per id within the window, and one stored meanwhile fails the batch', async () => {
    const log = h.platform.app.get(DeviceEventLog);
    const db = h.platform.app.get(Database);
    const e = event('c-1', 'sos');
    expect(await log.newOf([e, { ...e }])).toEqual([e]); // two copies in one batch: the first counts
    await db.run(() => log.record([{ eventId: randomUUID(), event: e, alertId: null }]));
    expect(await log.newOf([{ ...e }])).toEqual([]);
    const reused = { ...e, receivedAt: e.receivedAt + DUPLICATE_WINDOW_MS + 1000 };
    expect(await log.newOf([reused])).toEqual([reused]); // the same id after the window is a new event
    // another transaction stored it between this one's newOf and record: nothing of this batch stays
    const other = event('c-2', 'sos');
    await expect(db.run(async () => {
      await log.record([{ eventId: randomUUID(), event: other, alertId: null }]);
      await log.record([{ eventId: randomUUID(), event: { ...e }, alertId: null }]);
    })).rejects.toThrow(ConcurrentEventError);
    expect(await log.newOf([other])).toEqual([other]);
  });

  it('dispatch: two escalation rounds of one alert in one batch call different aides', async () => {
    const db = h.platform.app.get(Database);
    const [alert] = await db.query<{ id: string }>("SELECT id FROM alerts WHERE household_id = $1 AND type = 'sos'", [home.householdId]);
    const request = (round: number): Envelope<DispatchRequested> => env({
      alertId: alert.id, householdId: home.householdId, round, reason: 'escalated', callAides: true, priority: 'P1', alertType: 'sos', deviceTs: Date.now(),
    });
    const stored = await h.platform.app.get(HandleDispatchRequestUseCase).executeBatch([request(7), request(8)]);
    const aidesOf = (round: number) => stored.filter((d) => d.round === round && d.recipientKind === 'aide').map((d) => d.recipientId);
    expect(aidesOf(7)).toHaveLength(2);
    expect(aidesOf(8)).toHaveLength(2);
    expect(aidesOf(8).some((id) => aidesOf(7).includes(id))).toBe(false);
    // redelivered: nothing new is recorded
    const again = await h.platform.app.get(HandleDispatchRequestUseCase).executeBatch([request(7)]);
    expect(again.map((d) => d.id).sort()).toEqual(stored.filter((d) => d.round === 7).map((d) => d.id).sort());
  });

  it('dispatch: a request for an alert the database does not hold (restored to before it opened) is refused for good and reaches nobody', async () => {
    const db = h.platform.app.get(Database);
    const [alert] = await db.query<{ id: string }>("SELECT id FROM alerts WHERE household_id = $1 AND type = 'sos'", [home.householdId]);
    const gone = randomUUID();
    const request = (alertId: string): Envelope<DispatchRequested> => env({
      alertId, householdId: home.householdId, round: 0, reason: 'opened', callAides: true, priority: 'P1', alertType: 'sos', deviceTs: Date.now(),
    });
    const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dispatches');
    const err = await h.platform.app.get(HandleDispatchRequestUseCase).executeBatch([request(alert.id), request(gone)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentMessageError);
    expect(err).toMatchObject({ reason: 'unknown_alert' });
    expect((err as Error).message).toContain(gone);
    expect(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM dispatches')).toEqual(before);
  });
});
