import type { MqttClient } from 'mqtt';
import { MosquittoDeviceCredentials } from '@linan/devices';
import { silentLogger } from '../test-platform';
import { startMosquitto, tryDeviceConnect, type RunningMosquitto } from './mosquitto';

/** What a spec starts on the broker and the fixture stops after each test (a gateway's MosquittoSubscriber). */
export interface Startable {
  start(): void;
  stop(): Promise<void>;
}

/**
 * The project's Mosquitto for a spec file, with a device account per serial (secret `secret-<serial>`). Each test
 * gets a share group number of its own (a stopped replica's session keeps its share), and what it started (gateway
 * sessions through `start`, device connections through `online` or `keep`) is closed after it.
 */
export function mosquittoWithDevices(serials: readonly string[]) {
  let broker: RunningMosquitto | undefined;
  let group = 0;
  const started: Startable[] = [];
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    const accounts = new MosquittoDeviceCredentials({ url: broker.serviceUrl, clientId: 'admin-fixture', timeoutMs: 3000 }, silentLogger);
    for (const serial of serials) await accounts.upsert(serial, `secret-${serial}`);
    await accounts.close();
  });

  beforeEach(() => {
    group++;
  });

  afterEach(async () => {
    await Promise.all(started.splice(0).map((s) => s.stop()));
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  });

  afterAll(async () => {
    await broker?.stop();
  });

  const fixture = {
    get broker(): RunningMosquitto {
      if (!broker) throw new Error('the broker starts in beforeAll');
      return broker;
    },
    /** This test's number, for a share group of its own. */
    get group(): number {
      return group;
    },
    /** Starts `s` now and stops it after the test. */
    start<S extends Startable>(s: S): S {
      started.push(s);
      s.start();
      return s;
    },
    /** A connection to close after the test. */
    keep(client: MqttClient): MqttClient {
      clients.push(client);
      return client;
    },
    /** A device connected with its account (MQTT 5 unless told), closed after the test. */
    async online(serial: string, options: { url?: string; protocolVersion?: 4 | 5 } = {}): Promise<MqttClient> {
      const r = await tryDeviceConnect(options.url ?? fixture.broker.url, {
        clientId: serial, username: serial, password: `secret-${serial}`, protocolVersion: options.protocolVersion,
      });
      if (!r.ok) throw new Error(`device ${serial} refused: ${r.message}`);
      return fixture.keep(r.client);
    },
  };
  return fixture;
}
