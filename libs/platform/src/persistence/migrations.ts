import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { Outbox1764100000000 } from './migrations/1764100000000-outbox';

/** Every migration, oldest first; the same list runs on PGlite and on PostgreSQL. */
export const MIGRATIONS = [InitialSchema1764000000000, Outbox1764100000000];
