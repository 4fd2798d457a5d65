import { parseBrokerRefusal } from './broker-refusals';

const report = { clientId: 'SOS-1', action: 'publish', count: 3, topic: 'devices/SOS-2/events' };
const parse = (x: unknown) => parseBrokerRefusal(Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)));

describe(parseBrokerRefusal.name, () => {
  it('reads the broker plugin\'s reports: a refused packet, a refused connection, and refusals of devices beyond its list', () => {
    expect(parse(report)).toEqual(report);
    expect(parse({ ...report, clientId: '', topic: '' })).toEqual({ ...report, clientId: '', topic: '' });
    expect(parse({ ...report, action: 'subscribe', topic: 'devices/"引号"\\x' })).toEqual({ ...report, action: 'subscribe', topic: 'devices/"引号"\\x' });
    expect(parse({ clientId: '', action: 'connect', count: 2, topic: '' })).toEqual({ clientId: '', action: 'connect', count: 2, topic: '' });
    expect(parse({ clientId: '', action: 'connect', count: 9, topic: '', overflow: true })).toMatchObject({ overflow: true });
  });

  it('turns down what is not a report: not JSON, an unknown action, a count that is not a positive whole number, missing or oversized fields', () => {
    for (const bad of [
      'not json', '', '[]', 'null',
      { ...report, action: 'disconnect' }, { ...report, overflow: false }, { ...report, overflow: 'yes' },
      { ...report, count: 0 }, { ...report, count: -1 }, { ...report, count: 1.5 }, { ...report, count: '3' },
      { clientId: 'SOS-1', action: 'publish', count: 1 },
      { ...report, clientId: 'x'.repeat(129) }, { ...report, topic: 't'.repeat(1025) },
    ]) {
      expect(parse(bad)).toBeNull();
    }
  });
});
