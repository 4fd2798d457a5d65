import { chooseRecipients, nearestFirst, type AideCandidate, type RecipientQuery } from './recipients';

const aide = (id: string, community = '莲花社区', street = '莲前街道', district = '思明区'): AideCandidate => ({ id, name: `助老员${id}`, phone: '13800000000', district, street, community });
const q = (over: Partial<RecipientQuery> = {}): RecipientQuery => ({
  round: 0, callAides: true, priority: 'P1', community: '莲花社区', aides: [], contacts: [], alreadyCalled: new Set(), ...over,
});
const ids = (r: ReturnType<typeof chooseRecipients>) => r.map((x) => `${x.kind}:${x.id}:${x.channel}`);

describe(chooseRecipients.name, () => {
  it('first round calls the community aides on duty, family by SMS, and the operators', () => {
    const r = chooseRecipients(q({ aides: [aide('a'), aide('b'), aide('c', '其他社区')], contacts: [{ name: '女儿', phone: '13900000000', relation: 'daughter' }] }));
    expect(ids(r)).toEqual(['aide:a:sms', 'aide:b:sms', 'family:contact-0:sms', 'operators:operators:console']);
  });
  it('falls back to the two nearest aides when the community has nobody on duty', () => {
    const r = chooseRecipients(q({ aides: [aide('x', '邻社区'), aide('y', '邻社区'), aide('z', '远社区')] }));
    expect(ids(r)).toEqual(['aide:x:sms', 'aide:y:sms', 'operators:operators:console']);
  });
  it('an escalation calls the next two aides not yet called, and not the family again', () => {
    const r = chooseRecipients(q({ round: 1, aides: [aide('a'), aide('b'), aide('c'), aide('d')], alreadyCalled: new Set(['a']), contacts: [{ name: 'f', phone: '1', relation: 'son' }] }));
    expect(ids(r)).toEqual(['aide:b:sms', 'aide:c:sms', 'operators:operators:console']);
  });
  it('once the aide rounds are used up only the operators are called', () => {
    expect(ids(chooseRecipients(q({ round: 4, callAides: false, aides: [aide('a')] })))).toEqual(['operators:operators:console']);
  });
  it('maintenance alarms do not text the family', () => {
    const r = chooseRecipients(q({ priority: 'P4', contacts: [{ name: 'f', phone: '1', relation: 'son' }] }));
    expect(r.some((x) => x.kind === 'family')).toBe(false);
  });
  it('with nobody on duty the operators are still called', () => {
    expect(ids(chooseRecipients(q()))).toEqual(['operators:operators:console']);
  });
});

describe(nearestFirst.name, () => {
  it('orders the district\'s aides by community, then street, keeping their order otherwise, and leaves other districts out', () => {
    const aides = [aide('far', '远社区', '远街道'), aide('street', '邻社区'), aide('other-district', '莲花社区', '莲前街道', '湖里区'), aide('home'), aide('home2')];
    expect(nearestFirst(aides, { district: '思明区', street: '莲前街道', community: '莲花社区' }).map((a) => a.id)).toEqual(['home', 'home2', 'street', 'far']);
  });
});
