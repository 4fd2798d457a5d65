import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock, notFound } from '@linan/platform';
import { assertDistrict, type Actor } from '@linan/auth';
import type { Aide, Area, Contact, Funding, Household, SubsidyCategory } from '../domain/household';
import { AideRepository, HouseholdRepository } from './ports/people.repository';

export interface CreateHouseholdInput extends Area {
  name: string;
  phone: string;
  address: string;
  lat?: number;
  lng?: number;
  subsidyCategory: SubsidyCategory;
  funding: Funding;
  contacts?: Contact[];
}

@Injectable()
export class CreateHouseholdUseCase {
  constructor(private readonly households: HouseholdRepository, private readonly clock: Clock) {}

  async execute(actor: Actor, input: CreateHouseholdInput): Promise<Household> {
    assertDistrict(actor, input.district);
    const h: Household = {
      id: randomUUID(), name: input.name, phone: input.phone, address: input.address,
      district: input.district, street: input.street, community: input.community,
      lat: input.lat ?? null, lng: input.lng ?? null, subsidyCategory: input.subsidyCategory, funding: input.funding,
      contacts: input.contacts ?? [], createdAt: new Date(this.clock.now()),
    };
    await this.households.insert(h);
    return h;
  }
}

@Injectable()
export class GetHouseholdUseCase {
  constructor(private readonly households: HouseholdRepository) {}

  async execute(actor: Actor, id: string): Promise<Household> {
    const h = await this.households.findById(id);
    if (!h) throw notFound('HOUSEHOLD.NOT_FOUND', `household ${id} does not exist`);
    assertDistrict(actor, h.district);
    return h;
  }
}

@Injectable()
export class CreateAideUseCase {
  constructor(private readonly aides: AideRepository, private readonly clock: Clock) {}

  async execute(actor: Actor, input: Area & { name: string; phone: string; onDuty?: boolean }): Promise<Aide> {
    assertDistrict(actor, input.district);
    const a: Aide = { id: randomUUID(), ...input, onDuty: input.onDuty ?? false, createdAt: new Date(this.clock.now()) };
    await this.aides.insert(a);
    return a;
  }
}

@Injectable()
export class SetAideDutyUseCase {
  constructor(private readonly aides: AideRepository) {}

  async execute(actor: Actor, id: string, onDuty: boolean): Promise<Aide> {
    const a = await this.aides.findById(id);
    if (!a) throw notFound('AIDE.NOT_FOUND', `aide ${id} does not exist`);
    assertDistrict(actor, a.district);
    await this.aides.setOnDuty(id, onDuty);
    return { ...a, onDuty };
  }
}
