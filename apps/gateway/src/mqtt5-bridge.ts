import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { generate, parser, type Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import { Mqtt5Translator, type BridgeAction, type CloseHint } from './mqtt5-translation';

export { Reason, type CloseHint } from './mqtt5-translation';

/**
 * MQTT 5 devices on the embedded broker.
 *
 * Why: the embedded broker is aedes (1.x), which speaks MQTT 3.1 and 3.1.1 only and refuses an MQTT 5 CONNECT
 * ("unacceptable protocol version"), and we found no in-process broker on the npm registry that speaks 5. The
 * contract promises devices both versions, so an MQTT 5 connection is translated instead (docs/decisions.md says
 * why not another broker).
 *
 * How: `routeMqttConnection` reads the first bytes of every TCP connection up to the CONNECT's protocol level.
 * 3.1 and 3.1.1 (and anything that is not a readable CONNECT) go to `broker.handle(socket)` on their own socket,
 * with the bytes read put back: aedes sees them exactly as without this file. An MQTT 5 connection gets a `BridgedConnection`: the device's packets are parsed at
 * protocol level 5 (mqtt-packet), translated to 3.1.1 (mqtt5-translation.ts, which lists what is supported,
 * dropped and refused) and written into an in-process stream that aedes handles like a socket; aedes' 3.1.1
 * answers come back out of that stream and are translated to MQTT 5. Authentication, the ACL, presence and the
 * durable write before the PUBACK stay in aedes' hooks (embedded-broker.ts) for both versions: the bridge sends a
 * PUBACK only when aedes writes one.
 *
 * The one thing the broker code may tell the bridge is why it closes a connection (`setMqtt5CloseReason`): an MQTT 5
 * device then gets that reason (PUBACK 0x87 for a refused publish, DISCONNECT 0x87 / 0x98 / 0x8B) before the close.
 * A 3.1.1 connection ignores it.
 */

/** aedes' `handle`. */
export interface MqttConnectionHandler {
  handle(conn: Duplex): unknown;
}

export interface MqttRouterOptions {
  /** How long a connection may take to send its CONNECT's first bytes; aedes' own connect timeout by default. */
  connectTimeoutMs?: number;
  log?: Pick<Logger, 'debug' | 'warn'>;
}

const V4 = { protocolVersion: 4 };
const V5 = { protocolVersion: 5 };

/**
 * The protocol level of the CONNECT at the start of `head` (3 = 3.1, 4 = 3.1.1, 5), `undefined` while more bytes
 * are needed, `null` when `head` does not start with a CONNECT this can read (aedes then refuses it as before).
 */
export function peekConnectLevel(head: Buffer): number | null | undefined {
  if (head.length < 1) return undefined;
  if (head[0] !== 0x10) return null; // CONNECT, flags 0 [MQTT-2.2.2-2]
  // remaining length: 1–4 bytes, 7 bits each, high bit = more
  let at = 1;
  for (;;) {
    if (at >= head.length) return undefined;
    if ((head[at++] & 0x80) === 0) break;
    if (at === 5) return null;
  }
  if (head.length < at + 2) return undefined;
  const nameLength = head.readUInt16BE(at); // "MQTT" (4) or "MQIsdp" (6)
  if (nameLength !== 4 && nameLength !== 6) return null;
  const levelAt = at + 2 + nameLength;
  if (head.length <= levelAt) return undefined;
  return head[levelAt] & 0x7f; // bit 7: bridge mode (Mosquitto)
}

/**
 * Hands a new TCP connection to aedes, through the MQTT 5 bridge when its CONNECT says protocol level 5. A
 * connection that sends nothing readable within the connect timeout is closed.
 */
export function routeMqttConnection(broker: MqttConnectionHandler, socket: Socket, options: MqttRouterOptions = {}): void {
  const chunks: Buffer[] = [];
  const timer = setTimeout(() => socket.destroy(), options.connectTimeoutMs ?? 30_000);
  const onError = (err: Error) => options.log?.debug({ err: err.message }, 'mqtt connection error before CONNECT');
  const onClose = () => clearTimeout(timer);
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    const level = peekConnectLevel(head);
    if (level === undefined) return;
    clearTimeout(timer);
    socket.off('data', onData).off('error', onError).off('close', onClose);
    socket.pause();
    if (level === 5) {
      new BridgedConnection(broker, socket, options.log).start(head);
    } else {
      socket.unshift(head);
      broker.handle(socket);
    }
  };
  socket.on('data', onData).on('error', onError).once('close', onClose);
}

/**
 * Tells an MQTT 5 device why the broker is about to close its connection (call it before the close). A no-op for a
 * 3.1.1 connection. The first reason given wins.
 */
export function setMqtt5CloseReason(conn: unknown, hint: CloseHint): void {
  if (conn instanceof BrokerSideStream && !conn.closeHint) conn.closeHint = hint;
}

/** The stream aedes handles in place of the device's socket: aedes writes 3.1.1 into it and reads 3.1.1 from it. */
class BrokerSideStream extends Duplex {
  closeHint?: CloseHint;

  constructor(private readonly bridge: BridgedConnection) {
    super();
  }

  override _read(): void {
    this.bridge.brokerWantsMore();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bridge.fromBroker(chunk, callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.bridge.brokerClosed(err ?? undefined);
    callback(null); // the bridge has handled the error; aedes has already seen it
  }
}

/** One MQTT 5 device connection, bridged to aedes as a 3.1.1 connection. */
class BridgedConnection {
  private readonly translator = new Mqtt5Translator();
  private readonly fromDevice = parser(V5);
  private readonly fromAedes = parser(V4);
  private readonly brokerSide = new BrokerSideStream(this);
  private brokerEnded = false;
  private socketClosed = false;
  private closing = false;
  private pausedForBroker = false;
  private pendingWrite: (() => void) | null = null;

  constructor(
    private readonly broker: MqttConnectionHandler,
    private readonly socket: Socket,
    private readonly log?: Pick<Logger, 'debug' | 'warn'>,
  ) {
    this.fromDevice.on('packet', (p: Packet) => this.run(this.translator.fromClient(p)));
    this.fromDevice.on('error', (err: Error) => {
      this.log?.debug({ err: err.message }, 'malformed MQTT 5 packet; closing the connection');
      this.run(this.translator.malformed());
    });
    this.fromAedes.on('packet', (p: Packet) => this.run(this.translator.fromBroker(p)));
    this.fromAedes.on('error', (err: Error) => {
      this.log?.warn({ err: err.message }, 'unreadable packet from the broker; closing the MQTT 5 connection');
      this.run(this.translator.brokerClosed(undefined, err));
      this.endBroker();
    });
  }

  start(head: Buffer): void {
    this.broker.handle(this.brokerSide);
    this.socket.on('data', (chunk: Buffer) => this.fromDevice.parse(chunk));
    this.socket.on('error', (err) => this.log?.debug({ err: err.message }, 'mqtt 5 connection error'));
    this.socket.once('close', () => {
      this.socketClosed = true;
      this.releasePendingWrite();
      this.endBroker(); // as a dropped socket for aedes: it publishes the will unless a DISCONNECT 0x00 came first
    });
    this.fromDevice.parse(head);
    this.socket.resume();
  }

  /** aedes wrote 3.1.1 bytes for the device. Its write completes when the device's socket can take more. */
  fromBroker(chunk: Buffer, done: () => void): void {
    this.fromAedes.parse(chunk);
    if (this.socketClosed || !this.socket.writableNeedDrain) return done();
    this.pendingWrite = done;
    this.socket.once('drain', () => this.releasePendingWrite());
  }

  brokerWantsMore(): void {
    if (!this.pausedForBroker) return;
    this.pausedForBroker = false;
    this.socket.resume();
  }

  /** aedes destroyed its side: it closes the connection (refused CONNECT, ACL, DISCONNECT, takeover, error). */
  brokerClosed(err?: Error): void {
    this.brokerEnded = true;
    this.run(this.translator.brokerClosed(this.brokerSide.closeHint, err));
  }

  private run(actions: BridgeAction[]): void {
    for (const a of actions) {
      try {
        switch (a.kind) {
          case 'to-broker':
            if (this.brokerEnded) break;
            if (!this.brokerSide.push(generate(a.packet, V4)) && !this.pausedForBroker) {
              this.pausedForBroker = true;
              this.socket.pause();
            }
            break;
          case 'to-client':
            if (!this.socketClosed && !this.closing) this.socket.write(generate(a.packet, V5));
            break;
          case 'end-broker':
            this.endBroker();
            break;
          case 'close-client':
            this.closeClient();
            break;
        }
      } catch (err) {
        // a packet that cannot be written in the other version (mqtt-packet refuses it)
        this.log?.debug({ err: (err as Error).message, cmd: 'packet' in a ? a.packet.cmd : a.kind }, 'mqtt 5 bridge cannot translate a packet; closing');
        this.endBroker();
        this.closeClient();
        return;
      }
    }
  }

  private endBroker(): void {
    if (this.brokerEnded) return;
    this.brokerEnded = true;
    this.brokerSide.push(null);
  }

  private closeClient(): void {
    if (this.closing || this.socketClosed) return;
    this.closing = true;
    this.socket.end(); // after what was written before it
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private releasePendingWrite(): void {
    const done = this.pendingWrite;
    this.pendingWrite = null;
    done?.();
  }
}
