import { Module } from '@nestjs/common';
import { AlertingModule } from '@linan/alerting';
import { DeviceEventConsumer } from './device-event.consumer';
import { EscalationTimerWorker } from './escalation-timer.worker';

/** Alerts from device events, and the escalation clock. */
@Module({
  imports: [AlertingModule],
  providers: [DeviceEventConsumer, EscalationTimerWorker],
  exports: [EscalationTimerWorker],
})
export class TriageModule {}
