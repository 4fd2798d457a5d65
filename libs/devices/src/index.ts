import { DeviceOrmEntity } from './adapters/device.orm-entity';

export * from './domain/device';
export * from './application/ports/device.repository';
export * from './application/device.use-cases';
export * from './application/authenticate-device.use-case';
export * from './application/ingest-device-message.use-case';
export * from './application/record-broker-refusals.use-case';
export * from './application/device-presence';
export * from './adapters/in-process.device-sessions';
export * from './application/ports/device-credentials-directory';
export * from './application/reconcile-device-credentials.use-case';
export * from './adapters/embedded.device-credentials';
export * from './adapters/fake.device-credentials';
export * from './adapters/mqtt/mosquitto.device-credentials';
export * from './adapters/mqtt/broker-url';
export * from './adapters/mqtt/broker-refusals';
export * from './devices.module';
export const DEVICES_ENTITIES = [DeviceOrmEntity];
