import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { DeviceAttributes } from '../domain/device';

@Entity('devices')
export class DeviceOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text', { unique: true }) serial!: string;
  @Column('text') type!: string;
  @Column('text', { nullable: true }) model!: string | null;
  @Column('text') protocol!: string;
  @Column('jsonb') attributes!: DeviceAttributes;
  @Column('text', { name: 'secret_hash', nullable: true }) secretHash!: string | null;
  @Column('text') status!: string;
  @Column('uuid', { name: 'household_id', nullable: true }) householdId!: string | null;
  @Column('timestamptz', { name: 'registered_at' }) registeredAt!: Date;
  @Column('timestamptz', { name: 'installed_at', nullable: true }) installedAt!: Date | null;
  @Column('timestamptz', { name: 'decommissioned_at', nullable: true }) decommissionedAt!: Date | null;
  @Column('timestamptz', { name: 'last_seen_at', nullable: true }) lastSeenAt!: Date | null;
}
