import { DomainError } from '@linan/contracts';

export const ROLES = ['admin', 'operator', 'installer', 'aide'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  /** Null: every district (the centre's staff). Otherwise the one district this user may see and act on. */
  district: string | null;
}

/** The person behind a request, as the token says. */
export interface Actor {
  id: string;
  username: string;
  role: Role;
  district: string | null;
}

/** District scope: a user bound to a district sees and acts only within it. */
export function canAccessDistrict(actor: Actor, district: string): boolean {
  return actor.district === null || actor.district === district;
}

/** Throws AUTH.DISTRICT_FORBIDDEN (403) when the record's district is outside the actor's. */
export function assertDistrict(actor: Actor, district: string): void {
  if (!canAccessDistrict(actor, district)) {
    throw new DomainError('AUTH.DISTRICT_FORBIDDEN', 'forbidden', `your account is limited to district "${actor.district}"`);
  }
}
