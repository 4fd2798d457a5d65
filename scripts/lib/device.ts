import mqtt, { type MqttClient } from 'mqtt';

/** Wall-clock epoch milliseconds with a fraction (the device contract allows a fractional `ts`). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

/** A simulated SOS button: an MQTT client whose client id is its serial (and its user name, unless registration gave another). */
export function connectDevice(url: string, serial: string, password: string, timeoutMs = 10_000, username = serial): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      clientId: serial, username, password, protocolVersion: 4, clean: true,
      reconnectPeriod: 0, connectTimeout: timeoutMs, keepalive: 60,
    });
    const fail = (e: Error) => {
      c.end(true);
      reject(new Error(`device ${serial} could not connect: ${e.message}`));
    };
    c.once('connect', () => {
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      resolve(c);
    });
    c.once('error', fail);
    c.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

export const eventsTopic = (serial: string) => `devices/${serial}/events`;

export const sosPayload = (id: string, ts: number) => JSON.stringify({ id, type: 'sos', ts });

/**
 * Presses SOS: publishes the event at QoS 1 and calls back with the epoch ms of the PUBACK (the platform made it
 * durable) or the error.
 */
export function pressSos(c: MqttClient, serial: string, id: string, ts: number, done: (err: Error | null, pubackAt: number) => void): void {
  c.publish(eventsTopic(serial), sosPayload(id, ts), { qos: 1 }, (err) => done(err ?? null, nowMs()));
}

export function closeDevice(c: MqttClient): Promise<void> {
  return new Promise((r) => c.end(false, {}, () => r()));
}
