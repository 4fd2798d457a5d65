import { AlertLogOrmEntity, AlertOrmEntity, DeviceEventOrmEntity } from './adapters/alert.orm-entity';

export * from './domain/alert';
export * from './application/ports/alert.repository';
export * from './application/handle-device-event.use-case';
export * from './application/alert-actions.use-cases';
export * from './application/record-dispatches.use-case';
export * from './application/alert-queries';
export * from './alerting.module';
export const ALERTING_ENTITIES = [AlertOrmEntity, AlertLogOrmEntity, DeviceEventOrmEntity];
