import { DispatchOrmEntity } from './adapters/dispatch.orm-entity';

export * from './domain/recipients';
export * from './domain/message-text';
export * from './application/ports/notification.ports';
export * from './application/ports/dispatch.repository';
export * from './application/handle-dispatch-request.use-case';
export * from './application/send-dispatches.use-case';
export * from './adapters/sms/fake.sms-sender';
export * from './adapters/live.console-notifier';
export * from './dispatch.module';
export const DISPATCH_ENTITIES = [DispatchOrmEntity];
export * from './adapters/in-memory.dispatch.repository';
