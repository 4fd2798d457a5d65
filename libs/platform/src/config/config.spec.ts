import { ConfigError, loadConfig } from './config';

describe(loadConfig.name, () => {
  it('gives the documented defaults in embedded mode', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      http: { port: 3000 }, mqtt: { port: 1883 }, dc09: { port: 9000 }, dataDir: './data', admin: { username: 'admin' },
      mode: 'embedded', escalation: { ackTimeoutMs: 60_000 }, apps: ['gateway', 'triage', 'dispatch', 'provisioning', 'console'],
    });
    expect(c.admin.password).toBeUndefined();
    expect(Object.isFrozen(c.http)).toBe(true);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ http: { port: 3000 }, mode: 'embedded' });
  });

  it('reports every bad key at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', MQTT_PORT: '70000', DATABASE_URL: 'mysql://x', KAFKA_BROKERS: 'nohost', ADMIN_PASSWORD: 'short', APPS: 'gateway,teleporter' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(keys.sort()).toEqual(['ADMIN_PASSWORD', 'APPS', 'DATABASE_URL', 'KAFKA_BROKERS', 'MQTT_PORT', 'PORT']);
    expect((error as Error).message).toContain('teleporter');
  });

  it('switches to distributed mode when a service address is given', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/linan' }).mode).toBe('distributed');
    expect(loadConfig({ KAFKA_BROKERS: 'k1:9092, k2:9092' }).kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
  });
});
