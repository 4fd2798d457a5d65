import { ConfigError, gatewaySessionIds, loadConfig } from './config';

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

  const services = {
    DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/linan', KAFKA_BROKERS: 'k1:9092, k2:9092',
    REDIS_URL: 'redis://127.0.0.1:6379', MQTT_URL: 'mqtt://gw:pw@127.0.0.1:1883',
  };

  it('moves only the data to PostgreSQL when DATABASE_URL is the only service', () => {
    expect(loadConfig({ DATABASE_URL: services.DATABASE_URL }).mode).toBe('embedded');
  });

  it('switches to distributed mode when the services are given together', () => {
    const c = loadConfig(services);
    expect(c.mode).toBe('distributed');
    expect(c.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'linan:' });
  });

  it('refuses a partial distributed configuration, naming every missing key', () => {
    expect(() => loadConfig({ KAFKA_BROKERS: 'k1:9092' })).toThrow(ConfigError);
    try {
      loadConfig({ KAFKA_BROKERS: 'k1:9092' });
    } catch (e) {
      expect((e as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['DATABASE_URL', 'REDIS_URL', 'MQTT_URL']);
    }
  });

  it('needs MQTT_URL only for the apps that talk to the broker', () => {
    const { MQTT_URL: _, ...withoutBroker } = services;
    expect(loadConfig({ ...withoutBroker, APPS: 'triage' }).mode).toBe('distributed');
    expect(() => loadConfig({ ...withoutBroker, APPS: 'gateway' })).toThrow(/MQTT_URL: required/);
    expect(() => loadConfig({ ...withoutBroker, APPS: 'provisioning' })).toThrow(/MQTT_URL: required/);
  });
});

describe(gatewaySessionIds.name, () => {
  it('names one session after the replica, several after it with their index, each within MQTT\'s 64 characters', () => {
    expect(gatewaySessionIds('gw-a', 1)).toEqual(['gw-a']);
    expect(gatewaySessionIds('gw-a', 3)).toEqual(['gw-a-0', 'gw-a-1', 'gw-a-2']);
    expect(gatewaySessionIds('g'.repeat(64), 2).every((id) => id.length === 64)).toBe(true);
  });
});
