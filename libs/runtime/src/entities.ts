import { AUTH_ENTITIES } from '@linan/auth';
import { PEOPLE_ENTITIES } from '@linan/people';
import { DEVICES_ENTITIES } from '@linan/devices';
import { ALERTING_ENTITIES } from '@linan/alerting';
import { DISPATCH_ENTITIES } from '@linan/dispatch';

/** Every mapped table: each app sees the whole schema (one database, one set of migrations). */
export const ALL_ENTITIES = [...AUTH_ENTITIES, ...PEOPLE_ENTITIES, ...DEVICES_ENTITIES, ...ALERTING_ENTITIES, ...DISPATCH_ENTITIES];
