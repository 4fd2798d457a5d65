import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiProperty, ApiPropertyOptional, ApiQuery, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, Length } from 'class-validator';
import { CurrentActor, Roles, type Actor } from '@linan/auth';
import { AcknowledgeAlertUseCase, AlertQueries, DeviceEventLog, OUTCOMES, ResolveAlertUseCase, type Alert, type Outcome } from '@linan/alerting';
import { GetHouseholdUseCase } from '@linan/people';
import { DispatchRepository, type Dispatch } from '@linan/dispatch';
import { UuidParam } from '@linan/platform';

export class ResolveDto {
  @ApiProperty({ enum: OUTCOMES }) @IsIn(OUTCOMES) outcome!: Outcome;
  @ApiPropertyOptional({ example: '老人误按，已电话确认平安' }) @IsOptional() @IsString() @Length(0, 1000) note?: string;
}

export class ListAlertsQuery {
  @IsOptional() @IsIn(['open', 'closed', 'all']) status?: 'open' | 'closed' | 'all';
  @IsOptional() @IsUUID() householdId?: string;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** What the API shows of a dispatch: no phone number, no message text, ISO times. */
function toDispatchView(d: Dispatch) {
  return {
    id: d.id, alertId: d.alertId, round: d.round, recipientKind: d.recipientKind, recipientId: d.recipientId, recipientName: d.recipientName,
    channel: d.channel, status: d.status, attempts: d.attempts, lastError: d.lastError, createdAt: iso(d.createdAt), updatedAt: iso(d.updatedAt),
  };
}

/**
 * An alert as the API shows it, in `GET /alerts/{id}` and in the answers to acknowledge and resolve: times in ISO 8601,
 * and the escalation policy as its acknowledgement timeout only (the rest of the policy and the timer are internal).
 */
function alertView(alert: Alert) {
  const { policy, timerId: _timer, firstDeviceTs: _first, ...rest } = alert;
  return {
    ...rest,
    createdAt: iso(alert.openedAt), openedAt: iso(alert.openedAt), deviceTime: iso(alert.firstDeviceTs),
    acknowledgedAt: iso(alert.acknowledgedAt), resolvedAt: iso(alert.resolvedAt), escalationDueAt: iso(alert.escalationDueAt),
    ackTimeoutSeconds: policy.ackTimeoutMs / 1000,
  };
}

@ApiTags('alerts')
@ApiBearerAuth()
@Controller('api/v1')
export class AlertsController {
  constructor(
    private readonly queries: AlertQueries,
    private readonly ack: AcknowledgeAlertUseCase,
    private readonly resolveAlert: ResolveAlertUseCase,
    private readonly households: GetHouseholdUseCase,
    private readonly dispatches: DispatchRepository,
    private readonly events: DeviceEventLog,
  ) {}

  @Roles('operator', 'aide')
  @Get('alerts')
  @ApiQuery({ name: 'status', required: false, enum: ['open', 'closed', 'all'] })
  @ApiQuery({ name: 'householdId', required: false })
  async list(@CurrentActor() actor: Actor, @Query() q: ListAlertsQuery) {
    const items = await this.queries.list(actor, { status: q.status ?? 'open', householdId: q.householdId, limit: 500 });
    return {
      items: items.map((a) => ({
        id: a.id, type: a.type, priority: a.priority, status: a.status, householdId: a.householdId, deviceId: a.deviceId,
        householdName: a.householdName, address: a.address, district: a.district, community: a.community,
        createdAt: iso(a.openedAt), deviceTime: iso(a.firstDeviceTs), eventCount: a.eventCount, escalationRound: a.escalationRound,
        acknowledgedAt: iso(a.acknowledgedAt), resolvedAt: iso(a.resolvedAt), outcome: a.outcome,
      })),
    };
  }

  @Roles('operator', 'aide')
  @Get('alerts/:id')
  async one(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    const { alert, timeline } = await this.queries.get(actor, id);
    const household = await this.households.execute(actor, alert.householdId);
    return {
      ...alertView(alert),
      household,
      timeline: timeline.map((t) => ({ at: iso(t.at), kind: t.kind, actor: t.actor, details: t.details ?? {} })),
      dispatches: (await this.dispatches.list({ alertId: id, limit: 200 })).map(toDispatchView),
      recentEvents: (await this.events.recentForHousehold(alert.householdId, 10)).map((e) => ({
        ...e, deviceTs: iso(e.deviceTs), receivedAt: iso(e.receivedAt),
      })),
    };
  }

  @Roles('operator', 'aide')
  @Post('alerts/:id/acknowledge')
  @HttpCode(200)
  async acknowledge(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return alertView(await this.ack.execute(actor, id));
  }

  @Roles('operator', 'aide')
  @Post('alerts/:id/resolve')
  @HttpCode(200)
  async resolve(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: ResolveDto) {
    return alertView(await this.resolveAlert.execute(actor, id, dto.outcome, dto.note?.trim() || null));
  }

  @Roles('operator')
  @Get('dispatches')
  @ApiQuery({ name: 'alertId', required: false })
  async dispatchList(@CurrentActor() actor: Actor, @Query('alertId', UuidParam) alertId?: string) {
    const items = await this.dispatches.list({ alertId, district: actor.district, limit: 500 });
    return { items: items.map(toDispatchView) };
  }
}
