import { parseBrokerRefusal } from './broker-refusals';

const report = { clientId: 'SOS-1', action: 'publish', count: 3, topic: 'devices/SOS-2/events' };
const parse = (x: unknown) => parseBrokerRefusal(Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)));

describe(parseBrokerRefusal.name, () => {
  it('reads a report of the broker\'s plugin, and one for devices beyond its list (no client id)', () => {
    expect(parse(report)).toEqual(report);
    expect(parse({ ...report, clientId: '', topic: '' })).toEqual({ ...report, clientId: '', topic: '' });
    expect(parse({ ...report, action: 'subscribe', topic: 'devices/"引号"\\x' })).toEqual({ ...report, action: 'subscribe', topic: 'devices/"引号"\\x' });
  });

  it('turns down what is not a report: not JSON, an unknown action, a count that is not a positive whole number, missing or oversized fields', () => {
    for (const bad of [
      'not json', '', '[]', 'null',
      { ...report, action: 'connect' },
      { ...report, count: 0 }, { ...report, count: -1 }, { ...report, count: 1.5 }, { ...report, count: '3' },
      { clientId: 'SOS-1', action: 'publish', count: 1 },
      { ...report, clientId: 'x'.repeat(129) }, { ...report, topic: 't'.repeat(1025) },
    ]) {
      expect(parse(bad)).toBeNull();
    }
  });
});
