import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { DispatchContext } from '../application/ports/dispatch.repository';

@Entity('dispatches')
export class DispatchOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('uuid', { name: 'alert_id' }) alertId!: string;
  @Column('integer') round!: number;
  @Column('text', { name: 'recipient_kind' }) recipientKind!: string;
  @Column('text', { name: 'recipient_id' }) recipientId!: string;
  @Column('text', { name: 'recipient_name' }) recipientName!: string;
  @Column('text') channel!: string;
  @Column('text') status!: string;
  @Column('integer') attempts!: number;
  @Column('text', { name: 'last_error', nullable: true }) lastError!: string | null;
  @Column('text', { name: 'provider_ref', nullable: true }) providerRef!: string | null;
  @Column('text', { nullable: true }) destination!: string | null;
  @Column('text') body!: string;
  @Column('jsonb') context!: DispatchContext;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt!: Date;
}
