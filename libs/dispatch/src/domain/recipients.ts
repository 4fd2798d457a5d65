import type { Priority } from '@linan/contracts';

export type Channel = 'sms' | 'console';
export type RecipientKind = 'aide' | 'family' | 'operators';

export interface Recipient {
  kind: RecipientKind;
  id: string;
  name: string;
  phone: string | null;
  channel: Channel;
}

export interface AideCandidate {
  id: string;
  name: string;
  phone: string;
  district: string;
  street: string;
  community: string;
}

/** The on-duty aides who may answer for an area, nearest first: same community, then same street, then district. */
export function nearestFirst(aides: readonly AideCandidate[], area: { district: string; street: string; community: string }): AideCandidate[] {
  const rank = (a: AideCandidate) => (a.street === area.street ? (a.community === area.community ? 0 : 1) : 2);
  return aides.filter((a) => a.district === area.district).map((a, i) => ({ a, i, r: rank(a) }))
    .sort((x, y) => x.r - y.r || x.i - y.i).map((x) => x.a);
}

export interface RecipientQuery {
  round: number;
  callAides: boolean;
  priority: Priority;
  community: string;
  /** On-duty aides of the district, nearest first (community, then street, then district). */
  aides: AideCandidate[];
  contacts: { name: string; phone: string; relation: string }[];
  /** Aides already called about this alert in earlier rounds. */
  alreadyCalled: ReadonlySet<string>;
}

export const FIRST_ROUND_MAX_AIDES = 3;
export const NEXT_ROUND_AIDES = 2;

/**
 * Who is called in a round. First call-out: the on-duty aides of the household's own community (up to three), or
 * the nearest two when the community has none on duty, plus family by SMS for life and health alarms. Each
 * escalation: the next two aides not yet called, nearest first. The operators' console is told every round.
 */
export function chooseRecipients(q: RecipientQuery): Recipient[] {
  const operators: Recipient = { kind: 'operators', id: 'operators', name: '监控中心', phone: null, channel: 'console' };
  const fresh = q.aides.filter((a) => !q.alreadyCalled.has(a.id));
  let aides: AideCandidate[] = [];
  if (q.callAides && q.round === 0) {
    const local = fresh.filter((a) => a.community === q.community);
    aides = (local.length ? local : fresh).slice(0, local.length ? FIRST_ROUND_MAX_AIDES : NEXT_ROUND_AIDES);
  } else if (q.callAides) {
    aides = fresh.slice(0, NEXT_ROUND_AIDES);
  }
  const family = q.round === 0 && (q.priority === 'P1' || q.priority === 'P2')
    ? q.contacts.map((c, i) => ({ kind: 'family' as const, id: `contact-${i}`, name: c.name, phone: c.phone, channel: 'sms' as const }))
    : [];
  return [
    ...aides.map((a) => ({ kind: 'aide' as const, id: a.id, name: a.name, phone: a.phone, channel: 'sms' as const })),
    ...family,
    operators,
  ];
}
