import { Module } from '@nestjs/common';
import { AlertingModule } from '@linan/alerting';
import { AuthModule } from '@linan/auth';
import { DispatchModule } from '@linan/dispatch';
import { PeopleModule } from '@linan/people';
import { AlertsController } from './alerts.controller';
import { LiveGateway } from './live.gateway';

/** The operators' console: alert queue and actions, timeline, dispatch records, and the live WebSocket. */
@Module({
  imports: [AuthModule, AlertingModule, PeopleModule, DispatchModule],
  controllers: [AlertsController],
  providers: [LiveGateway],
})
export class ConsoleModule {}

export const CONSOLE_PUBLIC_DIR = `${__dirname}/../public`;
