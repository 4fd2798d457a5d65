import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { parseDeviceTopic } from '@linan/contracts';
import { DEVICE_PUBLISH_CHANNELS, brokerAddress, type Device, type IngestDeviceMessageUseCase } from '@linan/devices';

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
 * A message is acknowledged to Mosquitto only once IngestDeviceMessageUseCase has made its outcome durable:
 * mqtt.js sends the PUBACK when the `handleMessage` callback is called (handlers/publish.js), and handles a
 * connection's packets one at a time until then. When ingest fails, the message is not acknowledged and the
 * connection is dropped, so Mosquitto sends it again when the session resumes (dedup makes that harmless).
 */
export class MosquittoSubscriber {
  private client: MqttClient | null = null;
  private subscribed = false;
  /** Bumped on every lost connection: an answer for a packet of an older connection must not be sent. */
  private connection = 0;
  private stopping = false;
  private inFlight: Promise<void> | null = null;
  private failedInARow = 0;
  private readonly address: ReturnType<typeof brokerAddress>;
  private readyWaiters: (() => void)[] = [];

  constructor(
    private readonly options: MosquittoSubscriberOptions,
    private readonly ingest: Ingest,
    private readonly devices: Lookup,
    private readonly log: Logger,
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
    client.on('connect', (connack) => {
      this.log.info({ broker: this.address.display, clientId: this.options.clientId, sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker');
      this.subscribe(client);
    });
    client.on('close', () => {
      this.connection++;
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
  }

  private handle(packet: IPublishPacket, callback: (err?: Error) => void): void {
    // stopping: left unacknowledged in this replica's session, sent again when it starts next
    if (this.stopping) return;
    const connection = this.connection;
    // mqtt.js hands over one packet at a time per connection; after a reconnect the previous connection's packet
    // may still be in ingest, and its redelivered copy must not overtake it
    const previous = this.inFlight ?? Promise.resolve();
    const work = previous.then(() => this.process(packet)).then(
      () => {
        if (this.failedInARow) this.retryDelay(0);
        // a packet of a lost connection is sent again by the broker on the new one: do not ack a reused id there
        if (connection === this.connection) callback();
      },
      (err: unknown) => {
        if (packet.qos === 0) {
          // nothing to redeliver; a heartbeat's loss heals with the next one
          this.log.warn({ err, topic: packet.topic }, 'QoS 0 device message not processed');
          if (connection === this.connection) callback();
          return;
        }
        this.log.error({ err, topic: packet.topic }, 'device message could not be stored; not acknowledged, reconnecting so the broker sends it again');
        this.retryDelay(this.failedInARow + 1);
        if (connection === this.connection) this.dropConnection();
      },
    );
    const tracked: Promise<void> = work.finally(() => {
      if (this.inFlight === tracked) this.inFlight = null;
    });
    this.inFlight = tracked;
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
    if (this.inFlight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.inFlight, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    this.client = null;
    this.subscribed = false;
    // a normal DISCONNECT: Mosquitto keeps the session (its expiry was set at CONNECT)
    await client.endAsync(false).catch(() => undefined);
  }
}
