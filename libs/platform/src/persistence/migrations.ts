import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';

/** Every migration, oldest first; the same list runs on PGlite and on PostgreSQL. */
export const MIGRATIONS = [InitialSchema1764000000000];
