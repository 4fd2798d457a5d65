import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, displayHost, Endpoints, HealthRegistry, Metrics, RootLogger } from '@linan/platform';
import { AuthenticateDeviceUseCase, DevicePresence, InProcessDeviceSessions, IngestDeviceMessageUseCase } from '@linan/devices';
import { EmbeddedBroker } from './embedded-broker';

/** Starts the embedded MQTT broker with the application and stops it first on shutdown. */
@Injectable()
export class BrokerHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly broker: EmbeddedBroker;
  /** The port actually bound (MQTT_PORT=0 binds a free one). */
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
  ) {
    this.broker = new EmbeddedBroker(auth, ingest, metrics, log.child({ component: 'mqtt' }), presence);
    sessions.attach((serial, reason) => this.broker.disconnect(serial, reason));
    health.register('mqtt', async () => ({ up: this.broker.listening, detail: { port: this.port } }));
  }

  async onApplicationBootstrap(): Promise<void> {
    this.port = await this.broker.start(this.config.mqtt.port, this.config.mqtt.host);
    this.endpoints.add('MQTT broker', `mqtt://${displayHost(this.config.mqtt.host)}:${this.port}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.broker.stop();
  }
}
