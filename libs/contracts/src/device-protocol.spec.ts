import { MAX_EVENT_PAYLOAD_BYTES, parseDeviceEvent, parseDeviceTopic } from './device-protocol';

const NOW = Date.UTC(2026, 10, 25, 3, 0, 0);
const HOUR = 3600_000;

describe(parseDeviceEvent.name, () => {
  it('accepts a minimal SOS event and defaults state to alarm', () => {
    expect(parseDeviceEvent(JSON.stringify({ id: 'e1', type: 'sos', ts: NOW }), NOW)).toEqual({
      ok: true, value: { id: 'e1', type: 'sos', state: 'alarm', ts: NOW, battery: undefined, signal: undefined, data: undefined, late: false },
    });
  });
  it('accepts ISO-8601 time with an offset, and every optional field', () => {
    const r = parseDeviceEvent(JSON.stringify({ id: 'a.b:c-1_2', type: 'smoke', state: 'clear', ts: '2026-11-25T11:00:00+08:00', battery: 80, signal: -70, data: { room: 'kitchen' } }), NOW);
    expect(r).toMatchObject({ ok: true, value: { ts: NOW, state: 'clear', battery: 80, signal: -70, data: { room: 'kitchen' } } });
  });
  it('flags an event older than 24 h as late but accepts it', () => {
    expect(parseDeviceEvent(JSON.stringify({ id: 'e1', type: 'sos', ts: NOW - 25 * HOUR }), NOW)).toMatchObject({ ok: true, value: { late: true } });
  });

  it.each([
    ['not JSON', '{"id":', 'not_json', undefined],
    ['a JSON array', '[1,2]', 'not_json', undefined],
    ['a JSON string', '"sos"', 'not_json', undefined],
    ['missing id', JSON.stringify({ type: 'sos', ts: NOW }), 'missing_field', 'id'],
    ['numeric id', JSON.stringify({ id: 7, type: 'sos', ts: NOW }), 'invalid_field', 'id'],
    ['id with a space', JSON.stringify({ id: 'e 1', type: 'sos', ts: NOW }), 'invalid_field', 'id'],
    ['id of 65 characters', JSON.stringify({ id: 'x'.repeat(65), type: 'sos', ts: NOW }), 'invalid_field', 'id'],
    ['missing type', JSON.stringify({ id: 'e1', ts: NOW }), 'missing_field', 'type'],
    ['numeric type', JSON.stringify({ id: 'e1', type: 3, ts: NOW }), 'invalid_field', 'type'],
    ['unknown type', JSON.stringify({ id: 'e1', type: 'earthquake', ts: NOW }), 'unknown_type', 'type'],
    ['missing ts', JSON.stringify({ id: 'e1', type: 'sos' }), 'missing_field', 'ts'],
    ['ts as words', JSON.stringify({ id: 'e1', type: 'sos', ts: 'yesterday' }), 'invalid_field', 'ts'],
    ['ISO ts without offset', JSON.stringify({ id: 'e1', type: 'sos', ts: '2026-11-25T11:00:00' }), 'invalid_field', 'ts'],
    ['ts more than 24 h ahead', JSON.stringify({ id: 'e1', type: 'sos', ts: NOW + 25 * HOUR }), 'future_timestamp', 'ts'],
    ['state not alarm/clear', JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, state: 'maybe' }), 'invalid_field', 'state'],
    ['battery over 100', JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, battery: 101 }), 'invalid_field', 'battery'],
    ['signal above 0', JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, signal: 5 }), 'invalid_field', 'signal'],
    ['data not an object', JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, data: 'x' }), 'invalid_field', 'data'],
  ])('rejects %s', (_name, raw, reason, field) => {
    const r = parseDeviceEvent(raw, NOW);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toBe(reason);
      expect(r.field).toBe(field);
      expect(r.detail.length).toBeGreaterThan(0);
    }
  });

  it('rejects a payload over 4096 bytes before parsing it', () => {
    const raw = JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, data: { pad: 'x'.repeat(MAX_EVENT_PAYLOAD_BYTES) } });
    expect(parseDeviceEvent(Buffer.from(raw), NOW)).toMatchObject({ ok: false, reason: 'too_large' });
  });
  it('counts bytes, not characters (Chinese text)', () => {
    const raw = JSON.stringify({ id: 'e1', type: 'sos', ts: NOW, data: { note: '救'.repeat(1400) } });
    expect(raw.length).toBeLessThan(MAX_EVENT_PAYLOAD_BYTES);
    expect(parseDeviceEvent(Buffer.from(raw), NOW)).toMatchObject({ ok: false, reason: 'too_large' });
  });
});

describe(parseDeviceTopic.name, () => {
  it('reads the device id and channel', () => {
    expect(parseDeviceTopic('devices/SOS-1/events')).toEqual({ deviceId: 'SOS-1', channel: 'events' });
    expect(parseDeviceTopic('devices/SOS-1/other')).toBeNull();
    expect(parseDeviceTopic('devices/SOS-1/events/extra')).toBeNull();
  });
});
