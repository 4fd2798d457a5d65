import { AideOrmEntity, HouseholdOrmEntity } from './adapters/people.orm-entity';

export * from './domain/household';
export * from './application/ports/people.repository';
export * from './application/people.use-cases';
export * from './people.module';
export const PEOPLE_ENTITIES = [HouseholdOrmEntity, AideOrmEntity];
