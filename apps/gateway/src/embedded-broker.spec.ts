import mqtt, { type MqttClient } from 'mqtt';
import type { IDisconnectPacket } from 'mqtt-packet';
import pino from 'pino';
import type { AuthenticateDeviceUseCase, DevicePresence, IngestDeviceMessageUseCase } from '@linan/devices';
import { Metrics } from '@linan/platform';
import { EmbeddedBroker } from './embedded-broker';

/** The broker's own lifecycle, with the registry and the ingest stubbed: every device is let in. */
describe(EmbeddedBroker.name, () => {
  const auth = { execute: async ({ clientId }: { clientId: string }) => ({ ok: true, device: { serial: clientId } }) } as unknown as AuthenticateDeviceUseCase;
  const ingest = { execute: async () => ({ kind: 'presence' }) } as unknown as IngestDeviceMessageUseCase;
  const presence = { seen: async () => undefined, gone: async () => undefined } as unknown as DevicePresence;

  const connect = (port: number, protocolVersion: 4 | 5, id: string) => new Promise<MqttClient>((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion, clientId: id, username: id, password: 'x', reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });

  it('on stop tells MQTT 5 devices "server shutting down" (DISCONNECT 0x8B) and closes 3.1.1 devices as before', async () => {
    const broker = new EmbeddedBroker(auth, ingest, new Metrics(), pino({ level: 'silent' }), presence);
    const port = await broker.start(0, '127.0.0.1');
    const v5 = await connect(port, 5, 'dev-5');
    const v4 = await connect(port, 4, 'dev-4');
    const told = new Promise<IDisconnectPacket>((r) => v5.once('disconnect', (p) => r(p as IDisconnectPacket)));
    const closed = Promise.all([v5, v4].map((c) => new Promise<void>((r) => c.once('close', () => r()))));
    await broker.stop();
    expect((await told).reasonCode).toBe(0x8b);
    await closed;
    expect(broker.listening).toBe(false);
  });
});
