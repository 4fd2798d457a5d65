import { Module } from '@nestjs/common';
import { DispatchModule } from '@linan/dispatch';
import { DevSmsController } from './dev-sms.controller';
import { DispatchRequestConsumer } from './dispatch-request.consumer';
import { PendingDispatchSweeper } from './pending-dispatch.sweeper';

/** Reaching people for alerts; with the fake SMS provider, also what it "sent" (the process that sends keeps the list). */
@Module({
  imports: [DispatchModule],
  controllers: [DevSmsController],
  providers: [DispatchRequestConsumer, PendingDispatchSweeper],
})
export class DispatchAppModule {}
