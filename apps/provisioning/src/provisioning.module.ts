import { Module } from '@nestjs/common';
import { AuthModule } from '@linan/auth';
import { DevicesModule } from '@linan/devices';
import { PeopleModule } from '@linan/people';
import { AidesController, DevicesController, HouseholdsController } from './provisioning.controller';
import { BrokerAccountsService } from './broker-accounts.service';

/** Households, devices and their credentials, aides: the installers' and administrators' API. */
@Module({
  imports: [AuthModule, PeopleModule, DevicesModule],
  controllers: [HouseholdsController, DevicesController, AidesController],
  providers: [BrokerAccountsService],
})
export class ProvisioningModule {}
