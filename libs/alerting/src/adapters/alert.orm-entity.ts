import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { EscalationPolicy } from '../domain/alert';

@Entity('alerts')
export class AlertOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'household_id' }) householdId!: string;
  @Column('uuid', { name: 'device_id', nullable: true }) deviceId!: string | null;
  @Column('text') type!: string;
  @Column('text') priority!: string;
  @Column('text') status!: string;
  @Column('text') district!: string;
  @Column('text') community!: string;
  @Column('timestamptz', { name: 'opened_at' }) openedAt!: Date;
  @Column('timestamptz', { name: 'first_device_ts' }) firstDeviceTs!: Date;
  @Column('integer', { name: 'event_count' }) eventCount!: number;
  @Column('timestamptz', { name: 'acknowledged_at', nullable: true }) acknowledgedAt!: Date | null;
  @Column('text', { name: 'acknowledged_by', nullable: true }) acknowledgedBy!: string | null;
  @Column('timestamptz', { name: 'resolved_at', nullable: true }) resolvedAt!: Date | null;
  @Column('text', { name: 'resolved_by', nullable: true }) resolvedBy!: string | null;
  @Column('text', { nullable: true }) outcome!: string | null;
  @Column('text', { nullable: true }) note!: string | null;
  @Column('jsonb') policy!: EscalationPolicy;
  @Column('integer', { name: 'escalation_round' }) escalationRound!: number;
  @Column('timestamptz', { name: 'escalation_due_at', nullable: true }) escalationDueAt!: Date | null;
  @Column('uuid', { name: 'timer_id', nullable: true }) timerId!: string | null;
}

@Entity('alert_log')
export class AlertLogOrmEntity {
  @Column('bigint', { primary: true, generated: 'increment' }) id!: string;
  @Column('uuid', { name: 'alert_id' }) alertId!: string;
  @Column('timestamptz') at!: Date;
  @Column('text') kind!: string;
  @Column('text') actor!: string;
  @Column('jsonb') details!: Record<string, unknown>;
}

@Entity('device_events')
export class DeviceEventOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'device_id' }) deviceId!: string;
  @Column('text', { name: 'device_event_id' }) deviceEventId!: string;
  @Column('uuid', { name: 'household_id' }) householdId!: string;
  @Column('text') type!: string;
  @Column('text') state!: string;
  @Column('timestamptz', { name: 'device_ts' }) deviceTs!: Date;
  @Column('timestamptz', { name: 'received_at' }) receivedAt!: Date;
  @Column('boolean') late!: boolean;
  @Column('uuid', { name: 'alert_id', nullable: true }) alertId!: string | null;
  @Column('jsonb') payload!: Record<string, unknown>;
}
