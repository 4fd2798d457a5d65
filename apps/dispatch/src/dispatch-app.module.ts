import { Module } from '@nestjs/common';
import { DispatchModule } from '@linan/dispatch';
import { DispatchRequestConsumer } from './dispatch-request.consumer';
import { PendingDispatchSweeper } from './pending-dispatch.sweeper';

/** Reaching people for alerts. */
@Module({
  imports: [DispatchModule],
  providers: [DispatchRequestConsumer, PendingDispatchSweeper],
})
export class DispatchAppModule {}
