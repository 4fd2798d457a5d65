import { Module } from '@nestjs/common';
import { AideRepository, HouseholdRepository } from './application/ports/people.repository';
import { CreateAideUseCase, CreateHouseholdUseCase, GetHouseholdUseCase, SetAideDutyUseCase } from './application/people.use-cases';
import { TypeOrmAideRepository, TypeOrmHouseholdRepository } from './adapters/typeorm.people.repository';

/** Households (with their area, subsidy and contacts) and the community aides who answer for them. */
@Module({
  providers: [
    { provide: HouseholdRepository, useClass: TypeOrmHouseholdRepository },
    { provide: AideRepository, useClass: TypeOrmAideRepository },
    CreateHouseholdUseCase, GetHouseholdUseCase, CreateAideUseCase, SetAideDutyUseCase,
  ],
  exports: [HouseholdRepository, AideRepository, CreateHouseholdUseCase, GetHouseholdUseCase, CreateAideUseCase, SetAideDutyUseCase],
})
export class PeopleModule {}
