import type {
  IConnackPacket, IConnectPacket, IDisconnectPacket, IPublishPacket, ISubackPacket, ISubscribePacket, IUnsubscribePacket, Packet,
} from 'mqtt-packet';

/**
 * The packet translation of the MQTT 5 bridge (mqtt5-bridge.ts): MQTT 5 packets from a device become MQTT 3.1.1
 * packets for aedes, and aedes' 3.1.1 answers become MQTT 5 packets for the device. Pure: no sockets, no timers, so
 * the whole table is unit-tested (mqtt5-translation.spec.ts).
 *
 * What crosses, device → broker: CONNECT (client id, username, password, will topic/payload/QoS/retain, keepalive,
 * Clean Start), PUBLISH at QoS 0/1/2, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE (filter and QoS), UNSUBSCRIBE,
 * PINGREQ, DISCONNECT. Broker → device: CONNACK, PUBLISH, the acknowledgements, SUBACK, UNSUBACK, PINGRESP.
 *
 * Dropped or ignored (3.1.1 cannot carry them; aedes would not act on them): every MQTT 5 property on every packet
 * (user properties, content type, response topic, correlation data, message expiry, payload format), Session Expiry
 * Interval except as "0 or not" (see connectToV4), Receive Maximum, Maximum Packet Size, Topic Alias Maximum (the
 * broker never sends aliases), Request Response/Problem Information, the will properties (Will Delay Interval too:
 * a will is published at once), subscription options No Local / Retain As Published / Retain Handling (3.1.1
 * behaviour: retained messages are always sent on subscribe, the retain flag is cleared on forwarding).
 *
 * Refused: enhanced authentication (CONNACK 0x8C; AUTH later is a protocol error), topic aliases (the CONNACK
 * advertises none, so an alias is DISCONNECT 0x94), subscription identifiers (CONNACK says unavailable → DISCONNECT
 * 0xA1), shared subscriptions (CONNACK says unavailable; a refused `$share/` filter gets SUBACK 0x9E).
 */

/** MQTT 5 reason codes the bridge produces (MQTT 5.0 §2.4). */
export const Reason = {
  Success: 0x00,
  DisconnectWithWill: 0x04,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  BadAuthenticationMethod: 0x8c,
  ServerShuttingDown: 0x8b,
  KeepAliveTimeout: 0x8d,
  TopicAliasInvalid: 0x94,
  AdministrativeAction: 0x98,
  SharedSubscriptionsNotSupported: 0x9e,
  SubscriptionIdentifiersNotSupported: 0xa1,
} as const;

/** 3.1.1 CONNACK return code → MQTT 5 CONNACK reason code. aedes' non-standard 6 (keepalive limit) is unspecified. */
export const CONNACK_V4_TO_V5: Readonly<Record<number, number>> = {
  0: Reason.Success,
  1: Reason.UnsupportedProtocolVersion,
  2: Reason.ClientIdentifierNotValid,
  3: Reason.ServerUnavailable,
  4: Reason.BadUserNameOrPassword,
  5: Reason.NotAuthorized,
};

/** 3.1.1 SUBACK failure (0x80). The embedded broker returns it only when its ACL refuses the filter. */
export const SUBACK_V4_FAILURE = 0x80;

/** What the bridge does next, in order. */
export type BridgeAction =
  | { kind: 'to-broker'; packet: Packet } // a 3.1.1 packet into aedes
  | { kind: 'to-client'; packet: Packet } // an MQTT 5 packet to the device
  | { kind: 'end-broker' } // end aedes' side without a DISCONNECT: aedes publishes the will
  | { kind: 'close-client' }; // close the device's connection once what came before is written

/** Why the broker side closed, as the broker code tells it (setMqtt5CloseReason); see Mqtt5Translator.brokerClosed. */
export interface CloseHint {
  reasonCode: number;
  /** The PUBLISH that caused the close: it is answered with PUBACK (or PUBREC) carrying the reason code first. */
  messageId?: number;
}

const toBroker = (packet: Packet): BridgeAction => ({ kind: 'to-broker', packet });
const toClient = (packet: Packet): BridgeAction => ({ kind: 'to-client', packet });
const disconnect = (reasonCode: number): IDisconnectPacket => ({ cmd: 'disconnect', reasonCode });

/**
 * An MQTT 5 CONNECT as a 3.1.1 CONNECT, or the CONNACK reason code to refuse it with.
 *
 * Clean Start and Session Expiry Interval become one 3.1.1 clean-session flag: the session is kept (clean = false)
 * only when the device asks not to start clean *and* for a non-zero expiry; it is then kept as a 3.1.1 persistent
 * session (until a clean connect), not for the interval. A password without a username (allowed in 5, not in
 * 3.1.1) is dropped, so the broker sees missing credentials and refuses the device.
 */
export function connectToV4(p: IConnectPacket): { packet: IConnectPacket } | { refuse: number } {
  if (p.properties?.authenticationMethod !== undefined) return { refuse: Reason.BadAuthenticationMethod };
  const expiry = p.properties?.sessionExpiryInterval ?? 0;
  const packet: IConnectPacket = {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4,
    clientId: p.clientId,
    clean: p.clean !== false || expiry === 0 || p.clientId === '',
    keepalive: p.keepalive ?? 0,
  };
  if (p.username !== undefined) {
    packet.username = p.username;
    if (p.password !== undefined) packet.password = p.password;
  }
  if (p.will) packet.will = { topic: p.will.topic, payload: p.will.payload, qos: p.will.qos ?? 0, retain: p.will.retain ?? false };
  return { packet };
}

/** aedes' 3.1.1 CONNACK as an MQTT 5 CONNACK; on success it says which optional features are not available. */
export function connackToV5(p: IConnackPacket): IConnackPacket {
  const rc = p.returnCode ?? 0;
  const reasonCode = CONNACK_V4_TO_V5[rc] ?? Reason.UnspecifiedError;
  if (reasonCode !== Reason.Success) return { cmd: 'connack', sessionPresent: false, reasonCode };
  // no topicAliasMaximum: absent means 0, so a device may not send aliases
  return {
    cmd: 'connack', sessionPresent: p.sessionPresent, reasonCode,
    properties: { subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: false },
  };
}

/** One SUBACK reason code per requested filter, from aedes' granted list (which has one per *distinct* filter). */
export function subackToV5(requested: readonly string[], granted: readonly number[]): number[] {
  // aedes keeps the last of duplicate filters, in the order the filters first appeared
  const distinct = requested.length === granted.length ? [...requested] : [...new Set(requested)];
  return requested.map((topic) => {
    const g = granted[distinct.indexOf(topic)];
    if (g === undefined) return Reason.UnspecifiedError;
    if (g === SUBACK_V4_FAILURE) return topic.startsWith('$share/') ? Reason.SharedSubscriptionsNotSupported : Reason.NotAuthorized;
    return g;
  });
}

/** PUBLISH is the same packet in both versions once the properties are left out. */
function publishWithoutProperties(p: IPublishPacket): IPublishPacket {
  const out: IPublishPacket = { cmd: 'publish', topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
  if (p.qos > 0) out.messageId = p.messageId;
  return out;
}

/**
 * The state of one bridged connection: what is in flight, so that answers can be completed (UNSUBACK needs one
 * reason code per filter, SUBACK needs the filters) and a close caused by a PUBLISH can answer that PUBLISH first.
 */
export class Mqtt5Translator {
  /** After a successful CONNACK: only then may the broker side send DISCONNECT [MQTT-3.14.0-1]. */
  private connected = false;
  private connectSeen = false;
  private closed = false;
  /** Device PUBLISHes (QoS 1/2) forwarded to aedes and not acknowledged yet: messageId → QoS. */
  private readonly inflight = new Map<number, 1 | 2>();
  private readonly subscribes = new Map<number, string[]>();
  private readonly unsubscribes = new Map<number, number>();

  /** What to do with a packet the MQTT 5 device sent. */
  fromClient(p: Packet): BridgeAction[] {
    if (this.closed) return [];
    switch (p.cmd) {
      case 'connect': {
        if (this.connectSeen) return this.protocolClose(Reason.ProtocolError); // [MQTT-3.1.0-2]
        this.connectSeen = true;
        const r = connectToV4(p);
        if ('refuse' in r) {
          this.closed = true;
          return [toClient({ cmd: 'connack', sessionPresent: false, reasonCode: r.refuse }), { kind: 'close-client' }];
        }
        return [toBroker(r.packet)];
      }
      case 'publish':
        if (p.properties?.topicAlias !== undefined) return this.protocolClose(Reason.TopicAliasInvalid); // we advertised 0 [MQTT-3.3.2-8]
        if (p.qos > 0 && p.messageId !== undefined) this.inflight.set(p.messageId, p.qos as 1 | 2);
        return [toBroker(publishWithoutProperties(p))];
      case 'puback':
      case 'pubrec':
      case 'pubrel':
      case 'pubcomp':
        return [toBroker({ cmd: p.cmd, messageId: p.messageId })];
      case 'subscribe':
        return this.subscribe(p);
      case 'unsubscribe':
        return this.unsubscribe(p);
      case 'pingreq':
        return [toBroker({ cmd: 'pingreq' })];
      case 'disconnect':
        this.closed = true;
        // 0x00: a normal disconnect, the will is discarded; any other code (0x04 "with will", or an error): published
        if ((p.reasonCode ?? Reason.Success) === Reason.Success) return [toBroker({ cmd: 'disconnect' }), { kind: 'close-client' }];
        return [{ kind: 'end-broker' }, { kind: 'close-client' }];
      case 'auth': // no authentication method was agreed at CONNECT
      default: // packets only a server sends
        return this.protocolClose(Reason.ProtocolError);
    }
  }

  /** What to do with a packet aedes sent to the device. */
  fromBroker(p: Packet): BridgeAction[] {
    if (this.closed && p.cmd !== 'connack') return [];
    switch (p.cmd) {
      case 'connack': {
        const out = connackToV5(p);
        if (out.reasonCode !== Reason.Success) {
          this.closed = true;
          return [toClient(out), { kind: 'close-client' }];
        }
        this.connected = true;
        return [toClient(out)];
      }
      case 'publish':
        return [toClient(publishWithoutProperties(p))];
      case 'puback':
      case 'pubrec':
        this.inflight.delete(p.messageId!);
        return [toClient({ cmd: p.cmd, messageId: p.messageId, reasonCode: Reason.Success })];
      case 'pubrel':
      case 'pubcomp':
        return [toClient({ cmd: p.cmd, messageId: p.messageId, reasonCode: Reason.Success })];
      case 'suback': {
        const requested = this.subscribes.get(p.messageId!) ?? [];
        this.subscribes.delete(p.messageId!);
        return [toClient({ cmd: 'suback', messageId: p.messageId, granted: subackToV5(requested, (p as ISubackPacket).granted as number[]) })];
      }
      case 'unsuback': {
        const n = this.unsubscribes.get(p.messageId!) ?? 1;
        this.unsubscribes.delete(p.messageId!);
        // 3.1.1 does not say whether a subscription existed: Success for each filter
        return [toClient({ cmd: 'unsuback', messageId: p.messageId, granted: new Array<number>(n).fill(Reason.Success) })];
      }
      case 'pingresp':
        return [toClient({ cmd: 'pingresp' })];
      default:
        return [];
    }
  }

  /**
   * aedes closed its side. With a hint from the broker code (an ACL denial, an administrative close) or an error the
   * bridge recognises, a connected device is told why: the PUBLISH that caused it is answered with the reason code,
   * then DISCONNECT with the reason code. Without either (a takeover by a new connection with the same client id, or
   * after the device's own DISCONNECT) the connection just closes.
   */
  brokerClosed(hint?: CloseHint, err?: Error): BridgeAction[] {
    const wasOpen = !this.closed;
    this.closed = true;
    if (!wasOpen || !this.connected) return [{ kind: 'close-client' }];
    const reasonCode = hint?.reasonCode ?? (err ? reasonForBrokerError(err) : undefined);
    if (reasonCode === undefined) return [{ kind: 'close-client' }];
    const out: BridgeAction[] = [];
    const qos = hint?.messageId !== undefined ? this.inflight.get(hint.messageId) : undefined;
    if (qos !== undefined) out.push(toClient({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: hint!.messageId, reasonCode }));
    out.push(toClient(disconnect(reasonCode)), { kind: 'close-client' });
    return out;
  }

  /** A packet the device's stream could not be parsed into. */
  malformed(): BridgeAction[] {
    return this.protocolClose(Reason.MalformedPacket);
  }

  private subscribe(p: ISubscribePacket): BridgeAction[] {
    if (p.properties?.subscriptionIdentifier !== undefined) return this.protocolClose(Reason.SubscriptionIdentifiersNotSupported);
    this.subscribes.set(p.messageId!, p.subscriptions.map((s) => s.topic));
    return [toBroker({ cmd: 'subscribe', messageId: p.messageId, subscriptions: p.subscriptions.map((s) => ({ topic: s.topic, qos: s.qos })) })];
  }

  private unsubscribe(p: IUnsubscribePacket): BridgeAction[] {
    this.unsubscribes.set(p.messageId!, p.unsubscriptions.length);
    return [toBroker({ cmd: 'unsubscribe', messageId: p.messageId, unsubscriptions: [...p.unsubscriptions] })];
  }

  /** A protocol violation by the device: DISCONNECT with the reason (once connected), close, publish the will. */
  private protocolClose(reasonCode: number): BridgeAction[] {
    const wasConnected = this.connected && !this.closed;
    this.closed = true;
    return [...(wasConnected ? [toClient(disconnect(reasonCode))] : []), { kind: 'end-broker' }, { kind: 'close-client' }];
  }
}

/** A DISCONNECT reason for an error aedes closed a connection with. Keep-alive expiry is the one it names. */
export function reasonForBrokerError(err: Error): number {
  return /keep ?alive timeout/i.test(err.message) ? Reason.KeepAliveTimeout : Reason.UnspecifiedError;
}
