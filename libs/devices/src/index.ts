import { DeviceOrmEntity } from './adapters/device.orm-entity';

export * from './domain/device';
export * from './application/ports/device.repository';
export * from './application/device.use-cases';
export * from './application/authenticate-device.use-case';
export * from './application/ingest-device-message.use-case';
export * from './application/device-presence';
export * from './adapters/in-process.device-sessions';
export * from './devices.module';
export const DEVICES_ENTITIES = [DeviceOrmEntity];
