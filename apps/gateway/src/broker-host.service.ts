import { hostname } from 'node:os';
import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, displayHost, Endpoints, gatewaySessionIds, HealthRegistry, Metrics, RootLogger } from '@linan/platform';
import {
  AuthenticateDeviceUseCase, DevicePresence, DeviceRepository, InProcessDeviceSessions, IngestDeviceMessageUseCase,
  RecordBrokerRefusalsUseCase,
} from '@linan/devices';
import { DeviceLookup } from './device-lookup';
import { EmbeddedBroker } from './embedded-broker';
import { MosquittoSubscriber } from './mosquitto-subscriber';

/** A client id from the host name: stable only where the host name is (a StatefulSet pod, a compose `hostname:`). */
export function defaultGatewayClientId(host = hostname()): string {
  return `linan-gateway-${host.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 64);
}

/**
 * Device ingress for the gateway. Embedded mode: starts the MQTT broker (aedes) with the application and stops it
 * first on shutdown. With MQTT_URL: subscribes to the external broker (Mosquitto) instead, as one replica of the
 * share group, and stops taking messages before anything else shuts down.
 */
@Injectable()
export class BrokerHost implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly broker: EmbeddedBroker | null = null;
  private readonly subscribers: MosquittoSubscriber[] = [];
  /** The port the embedded broker bound (MQTT_PORT=0 binds a free one); 0 with an external broker. */
  port = 0;

  constructor(
    private readonly config: AppConfig,
    auth: AuthenticateDeviceUseCase,
    ingest: IngestDeviceMessageUseCase,
    metrics: Metrics,
    log: RootLogger,
    sessions: InProcessDeviceSessions,
    health: HealthRegistry,
    private readonly endpoints: Endpoints,
    presence: DevicePresence,
    devices: DeviceRepository,
    refusals: RecordBrokerRefusalsUseCase,
  ) {
    const mqttLog = log.child({ component: 'mqtt' });
    if (config.mqtt.url) {
      const clientId = config.mqtt.clientId ?? defaultGatewayClientId();
      if (!config.mqtt.clientId) {
        mqttLog.warn({ clientId }, 'MQTT_CLIENT_ID unset: the session is named after the host; give each replica a stable id, '
          + 'or messages queued for a replica that comes back under another name wait until its session expires');
      }
      // mqtt.js hands a connection's messages over one at a time, each waiting for its Kafka acknowledgement; several
      // sessions per replica (each a member of the share group) keep several in flight, and the bus sends the ones
      // that meet in one tick as one produce request
      const lookup = new DeviceLookup(devices);
      for (const sessionId of gatewaySessionIds(clientId, config.mqtt.gatewayConnections)) {
        this.subscribers.push(new MosquittoSubscriber({
          url: config.mqtt.url, clientId: sessionId, shareGroup: config.mqtt.shareGroup,
          sessionExpirySeconds: config.mqtt.sessionExpirySeconds,
        }, ingest, lookup, mqttLog, refusals));
      }
      health.register('mqtt', async () => ({
        up: this.subscribers.every((s) => s.ready),
        detail: {
          broker: this.subscribers[0].brokerDisplay, clientId, shareGroup: config.mqtt.shareGroup,
          sessions: this.subscribers.length, subscribed: this.subscribers.filter((s) => s.ready).length,
        },
      }));
      return;
    }
    const broker = new EmbeddedBroker(auth, ingest, metrics, mqttLog, presence);
    this.broker = broker;
    sessions.attach((serial, reason) => broker.disconnect(serial, reason));
    health.register('mqtt', async () => ({ up: broker.listening, detail: { port: this.port } }));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.subscribers.length) {
      // not awaited: the app starts and /health says when the broker answers
      this.subscribers.forEach((s) => s.start());
      const s = this.subscribers[0];
      this.endpoints.add('MQTT broker', `${s.brokerDisplay} (external, ${s.filters[0].replace(/\/[^/]+$/, '/…')}, ${this.subscribers.length} sessions)`);
      return;
    }
    this.port = await this.broker!.start(this.config.mqtt.port, this.config.mqtt.host);
    this.endpoints.add('MQTT broker', `mqtt://${displayHost(this.config.mqtt.host)}:${this.port}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.subscribers.map((s) => s.stop()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broker?.stop();
  }
}
