import type { IConnectPacket, Packet } from 'mqtt-packet';
import { connackToV5, connectToV4, Mqtt5Translator, Reason, reasonForBrokerError, subackToV5, type BridgeAction } from './mqtt5-translation';

const connect5 = (over: Partial<IConnectPacket> = {}): IConnectPacket => ({
  cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'SOS-1', clean: true, keepalive: 60,
  username: 'SOS-1', password: Buffer.from('secret'), ...over,
});

/** A translator past a successful CONNECT / CONNACK. */
function connected(): Mqtt5Translator {
  const t = new Mqtt5Translator();
  t.fromClient(connect5());
  t.fromBroker({ cmd: 'connack', returnCode: 0, sessionPresent: false });
  return t;
}

const toBroker = (packet: Packet): BridgeAction => ({ kind: 'to-broker', packet });
const toClient = (packet: Packet): BridgeAction => ({ kind: 'to-client', packet });
const close: BridgeAction = { kind: 'close-client' };
const endBroker: BridgeAction = { kind: 'end-broker' };

describe(Mqtt5Translator.name, () => {
  describe('CONNECT → 3.1.1', () => {
    it('keeps client id, credentials, keepalive and the will, and drops every property', () => {
      const r = connectToV4(connect5({
        properties: { receiveMaximum: 10, maximumPacketSize: 1000, topicAliasMaximum: 5, userProperties: { a: 'b' }, requestProblemInformation: true },
        will: { topic: 'devices/SOS-1/status', payload: Buffer.from('offline'), qos: 1, retain: true, properties: { willDelayInterval: 30, contentType: 'text/plain' } },
      }));
      expect(r).toEqual({
        packet: {
          cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'SOS-1', clean: true, keepalive: 60,
          username: 'SOS-1', password: Buffer.from('secret'),
          will: { topic: 'devices/SOS-1/status', payload: Buffer.from('offline'), qos: 1, retain: true },
        },
      });
    });

    it.each([
      // clean start, session expiry interval, client id → 3.1.1 clean session
      [true, undefined, 'SOS-1', true],
      [true, 3600, 'SOS-1', true],
      [false, undefined, 'SOS-1', true],
      [false, 0, 'SOS-1', true],
      [false, 3600, 'SOS-1', false],
      [false, 3600, '', true],
    ])('clean start %s with session expiry %s (client id %j) → clean session %s', (clean, expiry, clientId, expected) => {
      const r = connectToV4(connect5({ clean, clientId, properties: expiry === undefined ? undefined : { sessionExpiryInterval: expiry } }));
      expect('packet' in r && r.packet.clean).toBe(expected);
    });

    it('drops a password sent without a username, so the broker sees missing credentials', () => {
      const r = connectToV4(connect5({ username: undefined }));
      expect('packet' in r && r.packet).toEqual(expect.not.objectContaining({ password: expect.anything() }));
    });

    it('refuses enhanced authentication with CONNACK 0x8C, without asking the broker', () => {
      const t = new Mqtt5Translator();
      expect(t.fromClient(connect5({ properties: { authenticationMethod: 'SCRAM-SHA-1' } }))).toEqual([
        toClient({ cmd: 'connack', sessionPresent: false, reasonCode: Reason.BadAuthenticationMethod }), close,
      ]);
    });
  });

  describe('CONNACK → MQTT 5', () => {
    it.each([
      [0, '0x00'],
      [1, '0x84'], // unacceptable protocol version → unsupported protocol version
      [2, '0x85'], // identifier rejected → client identifier not valid
      [3, '0x88'], // server unavailable (the registry could not be asked)
      [4, '0x86'], // bad user name or password
      [5, '0x87'], // not authorized (every refused device, as the contract says)
      [6, '0x80'], // aedes' own "keep alive limit exceeded"
    ])('return code %i → reason code %s', (returnCode, reasonCode) => {
      expect(connackToV5({ cmd: 'connack', returnCode, sessionPresent: false }).reasonCode).toBe(Number(reasonCode));
    });

    it('on success passes session present and advertises no topic aliases, subscription ids or shared subscriptions', () => {
      const p = connackToV5({ cmd: 'connack', returnCode: 0, sessionPresent: true });
      expect(p).toEqual({ cmd: 'connack', sessionPresent: true, reasonCode: 0, properties: { subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: false } });
      expect(p.properties).not.toHaveProperty('topicAliasMaximum');
    });

    it('a refusal closes the connection after the CONNACK', () => {
      const t = new Mqtt5Translator();
      t.fromClient(connect5());
      expect(t.fromBroker({ cmd: 'connack', returnCode: 5, sessionPresent: false })).toEqual([
        toClient({ cmd: 'connack', sessionPresent: false, reasonCode: 0x87 }), close,
      ]);
      // no DISCONNECT before a successful CONNACK [MQTT-3.14.0-1]
      expect(t.brokerClosed({ reasonCode: 0x87 })).toEqual([close]);
    });
  });

  describe('PUBLISH and acknowledgements', () => {
    it.each([0, 1, 2] as const)('device → broker at QoS %i without properties', (qos) => {
      const t = connected();
      const out = t.fromClient({
        cmd: 'publish', topic: 'devices/SOS-1/events', payload: Buffer.from('{}'), qos, retain: false, dup: false,
        ...(qos ? { messageId: 7 } : {}), properties: { contentType: 'application/json', userProperties: { x: 'y' }, messageExpiryInterval: 60 },
      });
      expect(out).toEqual([toBroker({ cmd: 'publish', topic: 'devices/SOS-1/events', payload: Buffer.from('{}'), qos, retain: false, dup: false, ...(qos ? { messageId: 7 } : {}) })]);
    });

    it('broker → device keeps topic, payload, QoS, retain and message id', () => {
      const p = { cmd: 'publish', topic: 'devices/SOS-1/commands', payload: Buffer.from('silence'), qos: 1, retain: true, dup: false, messageId: 3 } as const;
      expect(connected().fromBroker(p)).toEqual([toClient(p)]);
    });

    it.each(['puback', 'pubrec', 'pubrel', 'pubcomp'] as const)('%s: broker → device with reason 0, device → broker as is', (cmd) => {
      const t = connected();
      expect(t.fromBroker({ cmd, messageId: 9 })).toEqual([toClient({ cmd, messageId: 9, reasonCode: 0 })]);
      expect(t.fromClient({ cmd, messageId: 9, reasonCode: 0x10 })).toEqual([toBroker({ cmd, messageId: 9 })]);
    });

    it('a topic alias (none was advertised) is DISCONNECT 0x94; the will is published', () => {
      const t = connected();
      expect(t.fromClient({ cmd: 'publish', topic: 'devices/SOS-1/events', payload: Buffer.from('{}'), qos: 1, messageId: 1, retain: false, dup: false, properties: { topicAlias: 1 } }))
        .toEqual([toClient({ cmd: 'disconnect', reasonCode: 0x94 }), endBroker, close]);
      expect(t.fromBroker({ cmd: 'pingresp' })).toEqual([]);
    });
  });

  describe('SUBSCRIBE / UNSUBSCRIBE', () => {
    it('forwards filters and QoS only; SUBACK failure 0x80 becomes 0x87, granted QoS passes', () => {
      const t = connected();
      expect(t.fromClient({ cmd: 'subscribe', messageId: 4, subscriptions: [
        { topic: 'devices/OTHER/commands', qos: 1, nl: true, rap: true, rh: 2 }, { topic: 'devices/SOS-1/commands', qos: 1, nl: false, rap: false, rh: 0 },
      ] })).toEqual([toBroker({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'devices/OTHER/commands', qos: 1 }, { topic: 'devices/SOS-1/commands', qos: 1 }] })]);
      expect(t.fromBroker({ cmd: 'suback', messageId: 4, granted: [0x80, 1] })).toEqual([toClient({ cmd: 'suback', messageId: 4, granted: [0x87, 1] })]);
    });

    it.each([
      [['a', 'b'], [0, 1], [0, 1]],
      [['a', 'a', 'b'], [1, 0x80], [1, 1, 0x87]], // aedes answers once per distinct filter
      [['$share/g/a'], [0x80], [0x9e]],
      [['a'], [], [0x80]],
    ])('SUBACK for %j from %j → %j', (requested, granted, expected) => {
      expect(subackToV5(requested, granted)).toEqual(expected);
    });

    it('a subscription identifier (not available) is DISCONNECT 0xA1', () => {
      expect(connected().fromClient({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a', qos: 0 }], properties: { subscriptionIdentifier: 3 } }))
        .toEqual([toClient({ cmd: 'disconnect', reasonCode: 0xa1 }), endBroker, close]);
    });

    it('UNSUBACK gets one Success per filter', () => {
      const t = connected();
      expect(t.fromClient({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a', 'b'] })).toEqual([toBroker({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['a', 'b'] })]);
      expect(t.fromBroker({ cmd: 'unsuback', messageId: 5, granted: [] })).toEqual([toClient({ cmd: 'unsuback', messageId: 5, granted: [0, 0] })]);
    });
  });

  describe('PING, DISCONNECT and protocol errors', () => {
    it('PINGREQ / PINGRESP pass', () => {
      const t = connected();
      expect(t.fromClient({ cmd: 'pingreq' })).toEqual([toBroker({ cmd: 'pingreq' })]);
      expect(t.fromBroker({ cmd: 'pingresp' })).toEqual([toClient({ cmd: 'pingresp' })]);
    });

    it('DISCONNECT 0x00 is a 3.1.1 DISCONNECT: the will is discarded', () => {
      expect(connected().fromClient({ cmd: 'disconnect', reasonCode: 0 })).toEqual([toBroker({ cmd: 'disconnect' }), close]);
      expect(connected().fromClient({ cmd: 'disconnect' })).toEqual([toBroker({ cmd: 'disconnect' }), close]);
    });

    it.each(['0x04', '0x80', '0x8d'])('DISCONNECT %s ends the broker side without a DISCONNECT: the will is published', (reasonCode) => {
      expect(connected().fromClient({ cmd: 'disconnect', reasonCode: Number(reasonCode) })).toEqual([endBroker, close]);
    });

    it.each([
      ['a second CONNECT', connect5()],
      ['AUTH', { cmd: 'auth', reasonCode: 0x18 } as Packet],
      ['a server-only packet', { cmd: 'connack', sessionPresent: false, reasonCode: 0 } as Packet],
    ])('%s is a protocol error: DISCONNECT 0x82', (_name, packet) => {
      const reasonCode = 0x82;
      expect(connected().fromClient(packet)).toEqual([toClient({ cmd: 'disconnect', reasonCode }), endBroker, close]);
    });

    it('a malformed packet is DISCONNECT 0x81 once connected, a bare close before', () => {
      expect(connected().malformed()).toEqual([toClient({ cmd: 'disconnect', reasonCode: 0x81 }), endBroker, close]);
      expect(new Mqtt5Translator().malformed()).toEqual([endBroker, close]);
    });
  });

  describe('when the broker closes the connection', () => {
    const publish = (t: Mqtt5Translator, messageId: number, qos: 1 | 2) =>
      t.fromClient({ cmd: 'publish', topic: 'devices/OTHER/events', payload: Buffer.from('{}'), qos, messageId, retain: false, dup: false });

    it('an ACL denial of a QoS 1 publish: PUBACK 0x87 for it, then DISCONNECT 0x87 (as Mosquitto answers)', () => {
      const t = connected();
      publish(t, 11, 1);
      expect(t.brokerClosed({ reasonCode: 0x87, messageId: 11 })).toEqual([
        toClient({ cmd: 'puback', messageId: 11, reasonCode: 0x87 }), toClient({ cmd: 'disconnect', reasonCode: 0x87 }), close,
      ]);
    });

    it('a denied QoS 2 publish gets PUBREC 0x87', () => {
      const t = connected();
      publish(t, 12, 2);
      expect(t.brokerClosed({ reasonCode: 0x87, messageId: 12 })[0]).toEqual(toClient({ cmd: 'pubrec', messageId: 12, reasonCode: 0x87 }));
    });

    it('a publish already acknowledged is not answered again', () => {
      const t = connected();
      publish(t, 13, 1);
      t.fromBroker({ cmd: 'puback', messageId: 13 });
      expect(t.brokerClosed({ reasonCode: 0x87, messageId: 13 })).toEqual([toClient({ cmd: 'disconnect', reasonCode: 0x87 }), close]);
    });

    it.each([
      ['an administrative close', { reasonCode: 0x98 }, undefined, [toClient({ cmd: 'disconnect', reasonCode: 0x98 }), close]],
      ['a keep-alive timeout', undefined, new Error('keep alive timeout'), [toClient({ cmd: 'disconnect', reasonCode: 0x8d }), close]],
      ['a failed store', undefined, new Error('database gone'), [toClient({ cmd: 'disconnect', reasonCode: 0x80 }), close]],
      ['a close without a reason (takeover)', undefined, undefined, [close]],
    ])('%s', (_name, hint, err, expected) => {
      expect(connected().brokerClosed(hint, err)).toEqual(expected);
    });

    it('nothing more is said after the device\'s own DISCONNECT', () => {
      const t = connected();
      t.fromClient({ cmd: 'disconnect', reasonCode: 0 });
      expect(t.brokerClosed(undefined, new Error('x'))).toEqual([close]);
    });

    it('names keep-alive errors only', () => {
      expect(reasonForBrokerError(new Error('keep alive timeout'))).toBe(0x8d);
      expect(reasonForBrokerError(new Error('connection closed'))).toBe(0x80);
    });
  });
});
