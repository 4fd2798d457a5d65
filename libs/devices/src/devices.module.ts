import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Module } from '@nestjs/common';
import { AppConfig, RootLogger } from '@linan/platform';
import { AuthModule } from '@linan/auth';
import { PeopleModule } from '@linan/people';
import { AuthenticateDeviceUseCase } from './application/authenticate-device.use-case';
import {
  DecommissionDeviceUseCase, InstallDeviceUseCase, RegisterDeviceUseCase, RotateDeviceSecretUseCase,
} from './application/device.use-cases';
import { IngestDeviceMessageUseCase } from './application/ingest-device-message.use-case';
import { RecordBrokerRefusalsUseCase } from './application/record-broker-refusals.use-case';
import { DevicePresence } from './application/device-presence';
import { DeviceRepository, DeviceSessionControl } from './application/ports/device.repository';
import { InProcessDeviceSessions } from './adapters/in-process.device-sessions';
import { TypeOrmDeviceRepository } from './adapters/typeorm.device.repository';
import { DeviceCredentialsDirectory } from './application/ports/device-credentials-directory';
import { ReconcileDeviceCredentialsUseCase } from './application/reconcile-device-credentials.use-case';
import { EmbeddedDeviceCredentials } from './adapters/embedded.device-credentials';
import { MosquittoDeviceCredentials } from './adapters/mqtt/mosquitto.device-credentials';

/** The device registry and the gateway's decisions about device messages. */
@Module({
  imports: [AuthModule, PeopleModule],
  providers: [
    { provide: DeviceRepository, useClass: TypeOrmDeviceRepository },
    InProcessDeviceSessions,
    { provide: DeviceSessionControl, useExisting: InProcessDeviceSessions },
    {
      // an external broker (MQTT_URL) keeps its own device accounts; the admin connection opens on first use, so
      // only a process that changes devices (provisioning) ever connects it
      provide: DeviceCredentialsDirectory,
      useFactory: (config: AppConfig, log: RootLogger): DeviceCredentialsDirectory => config.mqtt.url
        ? new MosquittoDeviceCredentials(
          { url: config.mqtt.url, clientId: `linan-admin-${hostname()}-${randomBytes(3).toString('hex')}`, timeoutMs: config.mqtt.adminTimeoutMs },
          log.child({ component: 'mqtt-admin' }),
        )
        : new EmbeddedDeviceCredentials(),
      inject: [AppConfig, RootLogger],
    },
    ReconcileDeviceCredentialsUseCase,
    RegisterDeviceUseCase, InstallDeviceUseCase, DecommissionDeviceUseCase, RotateDeviceSecretUseCase,
    AuthenticateDeviceUseCase, IngestDeviceMessageUseCase, RecordBrokerRefusalsUseCase, DevicePresence,
  ],
  exports: [DevicePresence,
    DeviceRepository, InProcessDeviceSessions, RegisterDeviceUseCase, InstallDeviceUseCase, DecommissionDeviceUseCase, RotateDeviceSecretUseCase,
    AuthenticateDeviceUseCase, IngestDeviceMessageUseCase, RecordBrokerRefusalsUseCase, DeviceCredentialsDirectory, ReconcileDeviceCredentialsUseCase,
  ],
})
export class DevicesModule {}
