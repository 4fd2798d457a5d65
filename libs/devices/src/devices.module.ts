import { Module } from '@nestjs/common';
import { AuthModule } from '@linan/auth';
import { PeopleModule } from '@linan/people';
import { AuthenticateDeviceUseCase } from './application/authenticate-device.use-case';
import {
  DecommissionDeviceUseCase, InstallDeviceUseCase, RegisterDeviceUseCase, RotateDeviceSecretUseCase,
} from './application/device.use-cases';
import { IngestDeviceMessageUseCase } from './application/ingest-device-message.use-case';
import { DevicePresence } from './application/device-presence';
import { DeviceRepository, DeviceSessionControl } from './application/ports/device.repository';
import { InProcessDeviceSessions } from './adapters/in-process.device-sessions';
import { TypeOrmDeviceRepository } from './adapters/typeorm.device.repository';

/** The device registry and the gateway's decisions about device messages. */
@Module({
  imports: [AuthModule, PeopleModule],
  providers: [
    { provide: DeviceRepository, useClass: TypeOrmDeviceRepository },
    InProcessDeviceSessions,
    { provide: DeviceSessionControl, useExisting: InProcessDeviceSessions },
    RegisterDeviceUseCase, InstallDeviceUseCase, DecommissionDeviceUseCase, RotateDeviceSecretUseCase,
    AuthenticateDeviceUseCase, IngestDeviceMessageUseCase, DevicePresence,
  ],
  exports: [DevicePresence,
    DeviceRepository, InProcessDeviceSessions, RegisterDeviceUseCase, InstallDeviceUseCase, DecommissionDeviceUseCase, RotateDeviceSecretUseCase,
    AuthenticateDeviceUseCase, IngestDeviceMessageUseCase,
  ],
})
export class DevicesModule {}
