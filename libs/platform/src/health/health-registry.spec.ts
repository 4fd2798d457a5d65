import { HealthRegistry } from './health-registry';

describe(HealthRegistry.name, () => {
  it('checks every probe: one that fails or does not answer in time is down, the others keep their answer', async () => {
    const r = new HealthRegistry();
    r.register('database', async () => ({ up: true }));
    r.register('kafka', () => new Promise(() => undefined));
    r.register('redis', async () => {
      throw new Error('connection refused');
    });
    r.register('mqtt', async () => ({ up: false, detail: { broker: 'mqtt://127.0.0.1:1883' } }));
    expect(await r.check(100)).toEqual([
      { name: 'database', up: true }, { name: 'kafka', up: false }, { name: 'redis', up: false }, { name: 'mqtt', up: false },
    ]);
  });
});
