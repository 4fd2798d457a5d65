import { Module } from '@nestjs/common';
import { PeopleModule } from '@linan/people';
import { AcknowledgeAlertUseCase, EscalateDueAlertsUseCase, ResolveAlertUseCase } from './application/alert-actions.use-cases';
import { AlertQueries } from './application/alert-queries';
import { HandleDeviceEventUseCase } from './application/handle-device-event.use-case';
import { AlertRepository, DeviceEventLog } from './application/ports/alert.repository';
import { RecordDispatchesUseCase } from './application/record-dispatches.use-case';
import { TypeOrmAlertRepository, TypeOrmDeviceEventLog } from './adapters/typeorm.alert.repository';

const USE_CASES = [HandleDeviceEventUseCase, AcknowledgeAlertUseCase, ResolveAlertUseCase, EscalateDueAlertsUseCase, RecordDispatchesUseCase, AlertQueries];

/** Alerts: triage of device events, the lifecycle, the durable escalation clock, and the timeline. */
@Module({
  imports: [PeopleModule],
  providers: [
    { provide: AlertRepository, useClass: TypeOrmAlertRepository },
    { provide: DeviceEventLog, useClass: TypeOrmDeviceEventLog },
    ...USE_CASES,
  ],
  exports: [AlertRepository, DeviceEventLog, ...USE_CASES],
})
export class AlertingModule {}
