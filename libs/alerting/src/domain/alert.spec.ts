import { acknowledge, AlertStateError, alertTypeOf, applyEscalation, markDispatched, nextStep, resolve, triage, type Alert } from './alert';

const T0 = Date.UTC(2026, 10, 25, 3, 0, 0);
const alert = (over: Partial<Alert> = {}): Alert => ({
  id: 'a1', householdId: 'h1', deviceId: 'd1', type: 'sos', priority: 'P1', status: 'dispatched', district: '思明区',
  community: '莲花社区', openedAt: T0, firstDeviceTs: T0, eventCount: 1, acknowledgedAt: null, acknowledgedBy: null,
  resolvedAt: null, resolvedBy: null, outcome: null, note: null, policy: { ackTimeoutMs: 60_000, maxAideRounds: 2 },
  escalationRound: 0, escalationDueAt: T0 + 60_000, timerId: 't1', ...over,
});

describe(triage.name, () => {
  it.each([
    ['sos', 'P1'], ['smoke', 'P1'], ['gas', 'P1'], ['fall', 'P1'], ['water', 'P2'], ['inactivity', 'P2'],
    ['power_loss', 'P3'], ['low_battery', 'P4'], ['tamper', 'P4'], ['fault', 'P4'],
  ] as const)('opens a %s alarm at %s', (type, priority) => {
    expect(triage({ type, state: 'alarm' }, null)).toEqual({ kind: 'open', priority });
  });
  it('attaches to the open alert of the same type', () => {
    const open = alert();
    expect(triage({ type: 'sos', state: 'alarm' }, open)).toEqual({ kind: 'attach', alert: open });
  });
  it('attaches power restored to the open power-loss alert', () => {
    const open = alert({ type: 'power_loss', priority: 'P3' });
    expect(triage({ type: 'power_restored', state: 'alarm' }, open)).toEqual({ kind: 'attach', alert: open });
    expect(alertTypeOf('power_restored')).toBe('power_loss');
  });
  it('never attaches to an alert of another type', () => {
    expect(triage({ type: 'smoke', state: 'alarm' }, alert({ type: 'sos' })).kind).toBe('open');
  });
  it.each([
    ['test', 'alarm'], ['power_restored', 'alarm'], ['smoke', 'clear'],
  ] as const)('only records %s/%s without an open alert', (type, state) => {
    expect(triage({ type, state }, null).kind).toBe('record');
  });
});

describe('alert lifecycle', () => {
  it('moves open → dispatched once', () => {
    expect(markDispatched(alert({ status: 'open' })).status).toBe('dispatched');
    expect(markDispatched(alert({ status: 'escalated' })).status).toBe('escalated');
  });
  it.each(['open', 'dispatched', 'escalated'] as const)('acknowledges from %s and stops the clock', (status) => {
    const a = acknowledge(alert({ status }), 'op1', T0 + 5000);
    expect(a).toMatchObject({ status: 'acknowledged', acknowledgedBy: 'op1', acknowledgedAt: T0 + 5000, escalationDueAt: null, timerId: null });
  });
  it.each(['acknowledged', 'resolved'] as const)('refuses to acknowledge when %s', (status) => {
    expect(() => acknowledge(alert({ status }), 'op1', T0)).toThrow(AlertStateError);
  });
  it('resolves with an outcome, and refuses a second resolution', () => {
    const a = resolve(alert({ status: 'acknowledged' }), 'op1', 'false_alarm', 'pressed by mistake', T0 + 9000);
    expect(a).toMatchObject({ status: 'resolved', outcome: 'false_alarm', note: 'pressed by mistake', resolvedAt: T0 + 9000 });
    expect(() => resolve(a, 'op1', 'other', null, T0)).toThrow(AlertStateError);
  });
});

describe(nextStep.name, () => {
  it.each([
    ['the timer id is another', alert(), 'other', { kind: 'stale' }],
    ['acknowledged', alert({ status: 'acknowledged' }), 't1', { kind: 'stale' }],
    ['resolved', alert({ status: 'resolved' }), 't1', { kind: 'stale' }],
    ['no timer armed', alert({ escalationDueAt: null }), 't1', { kind: 'stale' }],
    ['round 0 unanswered', alert(), 't1', { kind: 'escalate', round: 1, callAides: true, nextDueAt: T0 + 120_000 }],
    ['round 1 unanswered', alert({ status: 'escalated', escalationRound: 1 }), 't1', { kind: 'escalate', round: 2, callAides: true, nextDueAt: T0 + 120_000 }],
    ['aide rounds used up', alert({ status: 'escalated', escalationRound: 2 }), 't1', { kind: 'escalate', round: 3, callAides: false, nextDueAt: T0 + 120_000 }],
  ])('%s', (_name, a, timerId, expected) => {
    expect(nextStep(a as Alert, timerId as string, T0 + 60_000)).toEqual(expected);
  });
  it('arms a new timer when escalating', () => {
    const a = alert();
    const step = nextStep(a, 't1', T0 + 60_000);
    if (step.kind !== 'escalate') throw new Error('expected escalate');
    expect(applyEscalation(a, step, 't2')).toMatchObject({ status: 'escalated', escalationRound: 1, timerId: 't2', escalationDueAt: T0 + 120_000 });
  });
});
