import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { parseDeviceTopic } from '@linan/contracts';
import {
  BROKER_REFUSALS_TOPIC, DEVICE_PUBLISH_CHANNELS, brokerAddress, parseBrokerRefusal, type Device, type IngestDeviceMessageUseCase,
  type RecordBrokerRefusalsUseCase,
} from '@linan/devices';

export interface MosquittoSubscriberOptions {
  /** MQTT_URL, with the service account. */
  url: string;
  /** Stable per replica: a restarted gateway resumes its session and receives what was queued for it. */
  clientId: string;
  shareGroup: string;
  /** How long Mosquitto keeps the session (and its queued messages) while this gateway is stopped. */
  sessionExpirySeconds: number;
  /** Messages Mosquitto may send before their PUBACKs come back (MQTT 5 Receive Maximum). */
  receiveMaximum?: number;
  /** First reconnect delay; doubled after each failed ingest up to MAX_RETRY_DELAY_MS, reset once one succeeds. */
  reconnectPeriodMs?: number;
}

type Ingest = Pick<IngestDeviceMessageUseCase, 'execute'>;
type Refusals = Pick<RecordBrokerRefusalsUseCase, 'execute'>;
/** The registry by serial (DeviceLookup: shared by a replica's sessions, batched, installed devices remembered). */
type Lookup = { find(serial: string): Promise<Device | null> };
/**
 * Fast by default: after a broker restart, Mosquitto 2.0.11 routes nothing to a gateway until it has subscribed
 * again (offline sessions' shared subscriptions are not restored), so the gateway should be back before devices.
 */
const DEFAULT_RECONNECT_MS = 250;
/** While ingest keeps failing (the bus is down), redeliveries slow down to this. */
const MAX_RETRY_DELAY_MS = 5000;

/**
 * The gateway's side of an external broker (Mosquitto): one shared subscription, so the replicas of the share
 * group split device messages, over a persistent MQTT 5 session, so messages wait in the broker while this
 * replica restarts. Mosquitto has already authenticated the device and applied its ACL (a device may publish
 * only under devices/<its serial>/), so the serial in the topic is the sender.
 *
 * A message is acknowledged to Mosquitto only once IngestDeviceMessageUseCase has made its outcome durable, and
 * PUBACKs go out in the order the messages came (MQTT 4.6). Several messages of a session are in ingest at once
 * (up to its Receive Maximum): mqtt.js handles a connection's packets one at a time until the PUBACK of the current
 * one is sent (handlers/publish.js), so the session holds that PUBACK back (see `AckQueue`) and mqtt.js moves on; it
 * is written once this message and every earlier one of the connection are stored. One device's messages are
 * ingested one after the other, in the order they came. When ingest fails, the message is not acknowledged and the
 * connection is dropped, so Mosquitto sends it, and every later unacknowledged message, again when the session
 * resumes (dedup makes that harmless).
 */
export class MosquittoSubscriber {
  private client: MqttClient | null = null;
  private subscribed = false;
  /** Bumped on every lost connection: an answer for a packet of an older connection must not be sent. */
  private connection = 0;
  private stopping = false;
  /** Messages in ingest (all connections), for stop() to wait for. */
  private readonly inFlight = new Set<Promise<void>>();
  /** The last message in ingest per device serial: the next one of that device waits for it. */
  private readonly lastOfDevice = new Map<string, Promise<void>>();
  private acks: AckQueue | null = null;
  private failedInARow = 0;
  private readonly address: ReturnType<typeof brokerAddress>;
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly options: MosquittoSubscriberOptions,
    private readonly ingest: Ingest,
    private readonly devices: Lookup,
    private readonly log: Logger,
    /** What the broker reports it refused (deploy/mosquitto/plugin): counted and kept like the embedded broker's. */
    private readonly refusals: Refusals,
  ) {
    this.address = brokerAddress(options.url);
  }

  private get baseReconnectMs(): number {
    return this.options.reconnectPeriodMs ?? DEFAULT_RECONNECT_MS;
  }

  /** The shared subscription's topic filters. */
  get filters(): string[] {
    // what devices may publish (their broker role); `commands` is the platform's own traffic to devices
    return DEVICE_PUBLISH_CHANNELS.map((c) => `$share/${this.options.shareGroup}/devices/+/${c}`);
  }

  /** The broker's reports of refused device packets, shared by the group like device messages (counted once). */
  get refusalsFilter(): string {
    return `$share/${this.options.shareGroup}/${BROKER_REFUSALS_TOPIC}`;
  }

  /** Connected and subscribed: messages are flowing. */
  get ready(): boolean {
    return this.subscribed && (this.client?.connected ?? false);
  }

  get brokerDisplay(): string {
    return this.address.display;
  }

  /** Starts connecting and returns at once; the client keeps reconnecting until stop(). */
  start(): void {
    if (this.client) return;
    this.stopping = false;
    const client = mqtt.connect(this.address.url, {
      clientId: this.options.clientId,
      username: this.address.username,
      password: this.address.password,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: this.options.sessionExpirySeconds, receiveMaximum: this.options.receiveMaximum ?? 100 },
      reconnectPeriod: this.baseReconnectMs,
      reconnectOnConnackError: true,
      // the subscription lives in the session; it is renewed on every connect below instead
      resubscribe: false,
    });
    client.handleMessage = (packet, callback) => this.handle(packet, callback);
    this.acks = new AckQueue(client);
    client.on('connect', (connack) => {
      this.log.info({ broker: this.address.display, clientId: this.options.clientId, sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker');
      this.subscribe(client);
    });
    client.on('close', () => {
      this.connection++;
      // PUBACKs held for the lost connection are never sent: Mosquitto sends those messages again
      this.acks?.forget();
      if (this.subscribed && !this.stopping) this.log.warn({ broker: this.address.display }, 'MQTT broker connection lost; reconnecting');
      this.subscribed = false;
    });
    client.on('error', (err) => this.log.warn({ err: err.message, broker: this.address.display }, 'MQTT broker connection error'));
    this.client = client;
  }

  /** Resolves once subscribed (tests; the app itself reports through /health instead of waiting). */
  whenReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not subscribed to ${this.address.display} within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Renewed on every connect: harmless when the session kept it, needed when the session expired or is new.
   * Retain handling 2: Mosquitto 2.0.11 sends retained messages to a new shared subscription (the MQTT 5 spec says
   * it should not), which would replay every device's retained status to the gateway on each connect.
   */
  private subscribe(client: MqttClient): void {
    client.subscribe(this.filters, { qos: 1, rh: 2 }, (err, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos > 1);
      if (err || refused.length) {
        // e.g. 135: the service account's role lacks subscribePattern $share/+/devices/+/# (see deploy/mosquitto)
        this.log.error({ err: err?.message, refused: refused.map((g) => ({ topic: g.topic, code: g.qos })) },
          'the MQTT broker refused the gateway subscription; device messages are not being taken');
        return;
      }
      this.subscribed = true;
      this.log.info({ filters: this.filters }, 'taking device messages');
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      waiters.forEach((w) => w());
    });
    // apart from the device messages: a broker set up before the reports existed refuses this one and still works
    client.subscribe(this.refusalsFilter, { qos: 1 }, (err, granted) => {
      const code = granted?.[0]?.qos ?? 0;
      if (!err && code <= 1) return;
      this.log.warn({ err: err?.message, topic: this.refusalsFilter, code },
        'the MQTT broker refused the subscription to its reports of refused device packets; they are not counted '
        + '(grant the gateway role the report topic: docs/deployment.md, "A broker set up before the plugin")');
    });
  }

  /**
   * A report of device connections and packets the broker refused (deploy/mosquitto/plugin): counted, and a refused
   * publish kept on the rejected-events topic, before it is acknowledged, like a device message. An unreadable one is
   * only logged.
   */
  private async takeRefusal(packet: IPublishPacket): Promise<void> {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const report = parseBrokerRefusal(payload);
    if (report) await this.refusals.execute(report);
    else this.log.warn({ topic: packet.topic, bytes: payload.length }, 'unreadable report of refused device packets ignored');
  }

  private handle(packet: IPublishPacket, callback: (err?: Error) => void): void {
    // stopping: left unacknowledged in this replica's session, sent again when it starts next
    if (this.stopping) return;
    const connection = this.connection;
    const ack = packet.qos === 1 ? this.acks?.expect(packet.messageId!) : undefined;
    const taken = packet.topic === BROKER_REFUSALS_TOPIC
      ? this.takeRefusal(packet)
      : this.afterEarlierOfDevice(packet.topic, () => this.process(packet));
    const work = taken.then(
      () => {
        if (this.failedInARow) this.retryDelay(0);
        // a packet of a lost connection is sent again by the broker on the new one: its ack was forgotten
        ack?.settle();
      },
      (err: unknown) => {
        if (packet.qos === 0) {
          // nothing to redeliver; a heartbeat's loss heals with the next one
          this.log.warn({ err, topic: packet.topic }, 'QoS 0 device message not processed');
          return;
        }
        this.log.error({ err, topic: packet.topic }, 'device message could not be stored; not acknowledged, reconnecting so the broker sends it again');
        this.retryDelay(this.failedInARow + 1);
        if (connection === this.connection) this.dropConnection();
      },
    );
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
    // mqtt.js goes on to the next packet once this one's PUBACK is "sent": the queue holds it back until it is due
    callback();
  }

  /**
   * Runs `fn` after the device's earlier messages in this replica are done with (a redelivered copy of a message of
   * a lost connection does not overtake the first copy still in ingest either).
   */
  private afterEarlierOfDevice(topic: string, fn: () => Promise<void>): Promise<void> {
    const serial = parseDeviceTopic(topic)?.deviceId ?? '';
    const earlier = this.lastOfDevice.get(serial);
    const run = earlier ? earlier.then(fn, fn) : fn();
    const tail = run.then(() => undefined, () => undefined);
    this.lastOfDevice.set(serial, tail);
    void tail.then(() => {
      if (this.lastOfDevice.get(serial) === tail) this.lastOfDevice.delete(serial);
    });
    return run;
  }

  private async process(packet: IPublishPacket): Promise<void> {
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const route = parseDeviceTopic(topic);
    const serial = route?.deviceId ?? '';
    const device = serial ? await this.devices.find(serial) : null;
    const outcome = await this.ingest.execute({ device, serial, topic, payload });
    if (outcome.kind === 'rejected') this.log.info({ deviceId: serial, reason: outcome.reason }, 'device message rejected');
  }

  private retryDelay(failedInARow: number): void {
    this.failedInARow = failedInARow;
    if (this.client) {
      this.client.options.reconnectPeriod = Math.min(this.baseReconnectMs * 2 ** failedInARow, MAX_RETRY_DELAY_MS);
    }
  }

  /** As a network failure would: the session stays, and unacknowledged messages come again on reconnect. */
  private dropConnection(): void {
    this.client?.stream?.destroy();
  }

  /**
   * Stops taking messages and disconnects normally. The session stays on the broker for
   * `sessionExpirySeconds`, so messages for this replica queue there until it is back.
   */
  async stop(graceMs = 5000): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.stopping = true;
    if (this.inFlight.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.inFlight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    this.client = null;
    this.subscribed = false;
    // a normal DISCONNECT: Mosquitto keeps the session (its expiry was set at CONNECT)
    await client.endAsync(false).catch(() => undefined);
  }
}

/** mqtt.js's packet writer (MqttClient#_sendPacket, not in its typings): the one place a PUBACK is written. */
type SendPacket = (packet: { cmd: string; messageId?: number; reasonCode?: number }, cb?: (err?: Error) => void, ...rest: unknown[]) => void;

interface HeldAck {
  messageId: number;
  /** Set when mqtt.js asked to send it (the handleMessage callback). */
  reasonCode?: number;
  requested: boolean;
  /** Set when the message's outcome is durable. */
  settled: boolean;
}

/**
 * The PUBACKs of one MQTT connection, in the order its QoS 1 messages came. mqtt.js writes a message's PUBACK when
 * the `handleMessage` callback is called and only then reads the connection's next packet; the queue takes that
 * write over (it completes it for mqtt.js at once) and makes it when the message's ingest has settled and every
 * earlier PUBACK has been written, all that are due in one write. What is held when the connection is lost is
 * forgotten: Mosquitto sends those messages again on the next connection, where a held message id could already
 * name another message.
 */
export class AckQueue {
  private held: HeldAck[] = [];
  private readonly send: SendPacket;

  constructor(private readonly client: MqttClient) {
    const original = (client as unknown as { _sendPacket?: SendPacket })._sendPacket;
    if (typeof original !== 'function') throw new Error('mqtt.js has no _sendPacket: the gateway cannot hold PUBACKs back (mqtt version changed?)');
    this.send = original.bind(client);
    (client as unknown as { _sendPacket: SendPacket })._sendPacket = (packet, cb, ...rest) => {
      const ack = packet.cmd === 'puback' ? this.held.find((h) => h.messageId === packet.messageId && !h.requested) : undefined;
      if (!ack) return this.send(packet, cb, ...rest);
      ack.requested = true;
      ack.reasonCode = packet.reasonCode;
      cb?.();
      this.flush();
    };
  }

  /** A QoS 1 message has come: its PUBACK waits until `settle()` and the earlier ones. */
  expect(messageId: number): { settle(): void } {
    const ack: HeldAck = { messageId, requested: false, settled: false };
    this.held.push(ack);
    return {
      settle: () => {
        ack.settled = true;
        this.flush();
      },
    };
  }

  forget(): void {
    this.held = [];
  }

  private flush(): void {
    // never written while disconnected: mqtt.js would keep it and send it on the next connection
    if (!this.client.connected) {
      this.forget();
      return;
    }
    let n = 0;
    while (n < this.held.length && this.held[n].settled && this.held[n].requested) n++;
    if (!n) return;
    const due = this.held.splice(0, n);
    const stream = this.client.stream as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    for (const a of due) this.send({ cmd: 'puback', messageId: a.messageId, reasonCode: a.reasonCode });
    stream?.uncork?.();
  }
}
