import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Contact } from '../domain/household';

@Entity('households')
export class HouseholdOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') phone!: string;
  @Column('text') address!: string;
  @Column('text') district!: string;
  @Column('text') street!: string;
  @Column('text') community!: string;
  @Column('double precision', { nullable: true }) lat!: number | null;
  @Column('double precision', { nullable: true }) lng!: number | null;
  @Column('text', { name: 'subsidy_category' }) subsidyCategory!: string;
  @Column('text') funding!: string;
  @Column('jsonb') contacts!: Contact[];
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}

@Entity('aides')
export class AideOrmEntity {
  @PrimaryColumn('uuid') id!: string;
  @Column('text') name!: string;
  @Column('text') phone!: string;
  @Column('text') district!: string;
  @Column('text') street!: string;
  @Column('text') community!: string;
  @Column('boolean', { name: 'on_duty' }) onDuty!: boolean;
  @Column('timestamptz', { name: 'created_at' }) createdAt!: Date;
}
