import type { Aide, Household } from '../../domain/household';

export abstract class HouseholdRepository {
  abstract insert(h: Household): Promise<void>;
  abstract findById(id: string): Promise<Household | null>;
  abstract findByIds(ids: string[]): Promise<Household[]>;
  abstract search(filter: { district?: string; q?: string; limit: number }): Promise<Household[]>;
}

export abstract class AideRepository {
  abstract insert(a: Aide): Promise<void>;
  abstract findById(id: string): Promise<Aide | null>;
  abstract setOnDuty(id: string, onDuty: boolean): Promise<void>;
  abstract list(filter: { district?: string }): Promise<Aide[]>;
  /** Every on-duty aide of these districts (for choosing recipients of several alerts at once). */
  abstract onDutyInDistricts(districts: string[]): Promise<Aide[]>;
}
