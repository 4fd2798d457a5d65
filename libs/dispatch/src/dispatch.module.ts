import { Module } from '@nestjs/common';
import { AppConfig, Cache, Clock, RootLogger } from '@linan/platform';
import { AlertingModule } from '@linan/alerting';
import { PeopleModule } from '@linan/people';
import { HandleDispatchRequestUseCase } from './application/handle-dispatch-request.use-case';
import { DispatchRepository } from './application/ports/dispatch.repository';
import { ConsoleNotifier, SmsSender } from './application/ports/notification.ports';
import { SendDispatchesUseCase, SendPendingDispatchesUseCase } from './application/send-dispatches.use-case';
import { LiveConsoleNotifier } from './adapters/live.console-notifier';
import { FakeSmsSender } from './adapters/sms/fake.sms-sender';
import { TypeOrmDispatchRepository } from './adapters/typeorm.dispatch.repository';

function smsSender(config: AppConfig, clock: Clock, cache: Cache, log: RootLogger): SmsSender {
  switch (config.sms.provider) {
    case 'fake':
      // with Redis (distributed mode), what every dispatch replica sent is listed by any of them
      return new FakeSmsSender(clock, undefined, config.redis.url ? { cache, log: log.child({ component: 'fake-sms' }) as RootLogger } : undefined);
  }
}

/** Reaching people: recipient choice, dispatch records, SMS and console channels, retries and the pending sweeper. */
@Module({
  imports: [AlertingModule, PeopleModule],
  providers: [
    { provide: DispatchRepository, useClass: TypeOrmDispatchRepository },
    { provide: SmsSender, useFactory: smsSender, inject: [AppConfig, Clock, Cache, RootLogger] },
    { provide: ConsoleNotifier, useClass: LiveConsoleNotifier },
    HandleDispatchRequestUseCase, SendDispatchesUseCase, SendPendingDispatchesUseCase,
  ],
  exports: [DispatchRepository, SmsSender, HandleDispatchRequestUseCase, SendPendingDispatchesUseCase],
})
export class DispatchModule {}
