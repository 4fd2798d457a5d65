import { createServer, type Server } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { Metrics, StartupError } from '@linan/platform';
import { AuthenticateDeviceUseCase, DevicePresence, IngestDeviceMessageUseCase, maySubscribe, type Device } from '@linan/devices';
import { Reason, routeMqttConnection, setMqtt5CloseReason } from './mqtt5-bridge';

/** CONNACK return code 5, "not authorized": what the device contract promises for every refused device. */
const NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

type DeviceClient = Client & { linanDevice?: Device };

export class PortInUseError extends StartupError {
  override name = 'PortInUseError';
  constructor(readonly port: number, host: string) {
    super(
      `MQTT port ${port} on ${host} is already in use (another broker such as Mosquitto may be running). ` +
        'Set MQTT_PORT to a free port, e.g. MQTT_PORT=18830 npm start.',
    );
  }
}

/**
 * The embedded MQTT broker (aedes) in front of the gateway: devices authenticate against the registry, the
 * per-device ACL is enforced, and a device event is PUBACKed only after the gateway has made it durable — the
 * durable write happens inside `authorizePublish`, which aedes completes before it sends the PUBACK. aedes speaks
 * MQTT 3.1/3.1.1; MQTT 5 devices reach it through the bridge in mqtt5-bridge.ts, and everything here holds for both.
 */
export class EmbeddedBroker {
  private broker!: Aedes;
  private server!: Server;

  constructor(
    private readonly auth: AuthenticateDeviceUseCase,
    private readonly ingest: IngestDeviceMessageUseCase,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly presence: DevicePresence,
  ) {}

  async start(port: number, host: string): Promise<number> {
    this.broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => void this.authenticate(client as DeviceClient, username, password, done),
      authorizePublish: (client, packet, done) => void this.authorizePublish(client as DeviceClient | null, packet, done),
      authorizeSubscribe: (client, sub, done) => {
        const serial = (client as DeviceClient).linanDevice?.serial;
        if (serial && maySubscribe(serial, sub.topic)) return done(null, sub);
        this.metrics.aclDenied.inc({ action: 'subscribe' });
        this.log.warn({ deviceId: serial, topic: sub.topic }, 'subscription refused by ACL');
        done(null, null);
      },
    });
    this.broker.on('clientError', (client, err) => this.log.debug({ deviceId: client.id, err: err.message }, 'mqtt client error'));
    const track = (client: DeviceClient, online: boolean) => {
      const serial = client.linanDevice?.serial;
      if (!serial) return;
      (online ? this.presence.seen(serial) : this.presence.gone(serial)).catch((err) => this.log.warn({ err, deviceId: serial }, 'presence not updated'));
    };
    this.broker.on('clientReady', (client) => track(client as DeviceClient, true));
    this.broker.on('clientDisconnect', (client) => track(client as DeviceClient, false));
    this.server = createServer((socket) => routeMqttConnection(this.broker, socket, { log: this.log }));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new PortInUseError(port, host) : e));
      this.server.listen(port, host, () => resolve());
    });
    const addr = this.server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  private async authenticate(
    client: DeviceClient,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): Promise<void> {
    try {
      const r = await this.auth.execute({ clientId: client.id, username, password });
      if (r.ok) {
        client.linanDevice = r.device;
        return done(null, true);
      }
      this.metrics.connectRefused.inc({ reason: r.reason });
      this.log.warn({ deviceId: client.id, reason: r.reason }, 'mqtt connection refused');
      done(authError(r.reason, NOT_AUTHORIZED), false);
    } catch (err) {
      this.log.error({ err, deviceId: client.id }, 'device authentication failed');
      done(authError('server unavailable', 3), false);
    }
  }

  private async authorizePublish(
    client: DeviceClient | null,
    packet: { topic: string; payload: Buffer | string; retain?: boolean; messageId?: number },
    done: (error?: Error | null) => void,
  ): Promise<void> {
    if (!client) return done(null);
    const serial = client.linanDevice?.serial ?? client.id;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    try {
      const outcome = await this.ingest.execute({ device: client.linanDevice ?? null, serial, topic: packet.topic, payload });
      if (outcome.kind === 'rejected' && outcome.reason === 'topic_mismatch') {
        this.metrics.aclDenied.inc({ action: 'publish' });
        this.log.warn({ deviceId: serial, topic: packet.topic }, 'publish refused by ACL; closing the connection');
        setMqtt5CloseReason(client.conn, { reasonCode: Reason.NotAuthorized, messageId: packet.messageId });
        return done(new Error('not authorized'));
      }
      if (outcome.kind === 'rejected') this.log.info({ deviceId: serial, reason: outcome.reason }, 'device event rejected');
      done(null);
    } catch (err) {
      // not durable: no PUBACK; the connection closes and the device sends the message again
      this.log.error({ err, deviceId: serial }, 'device message could not be stored; closing the connection so it is resent');
      done(err as Error);
    }
  }

  async disconnect(serial: string, reason: string): Promise<void> {
    const c = this.clients[serial];
    if (c) {
      this.log.info({ deviceId: serial, reason }, 'closing device session');
      setMqtt5CloseReason(c.conn, { reasonCode: Reason.AdministrativeAction });
      c.close();
    }
  }

  /** aedes' connected clients by client id (not in its typings). */
  private get clients(): Record<string, Client> {
    return (this.broker as unknown as { clients: Record<string, Client> }).clients;
  }

  async stop(): Promise<void> {
    if (!this.broker) return;
    for (const c of Object.values(this.clients)) setMqtt5CloseReason(c.conn, { reasonCode: Reason.ServerShuttingDown });
    await new Promise<void>((r) => this.broker.close(() => r()));
    await new Promise<void>((r) => (this.server.listening ? this.server.close(() => r()) : r()));
  }
}
