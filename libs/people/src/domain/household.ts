export const SUBSIDY_CATEGORIES = [
  'extreme_poverty', 'minimum_living', 'disabled', 'advanced_age', 'living_alone', 'empty_nest', 'left_behind', 'none',
] as const;
export type SubsidyCategory = (typeof SUBSIDY_CATEGORIES)[number];
export const FUNDING = ['government', 'self'] as const;
export type Funding = (typeof FUNDING)[number];

/** Mainland mobile number: 11 digits starting with 1. */
export const MOBILE_PHONE = /^1\d{10}$/;

export interface Area {
  district: string;
  street: string;
  community: string;
}

export interface Contact {
  name: string;
  phone: string;
  relation: string;
}

export interface Household extends Area {
  id: string;
  name: string;
  phone: string;
  address: string;
  lat: number | null;
  lng: number | null;
  subsidyCategory: SubsidyCategory;
  funding: Funding;
  contacts: Contact[];
  createdAt: Date;
}

export interface Aide extends Area {
  id: string;
  name: string;
  phone: string;
  onDuty: boolean;
  createdAt: Date;
}
