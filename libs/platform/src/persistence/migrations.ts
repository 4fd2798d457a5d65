import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema';
import { Outbox1764100000000 } from './migrations/1764100000000-outbox';
import { OutboxBatches1765000000000 } from './migrations/1765000000000-outbox-batches';
import { BusOffsetsLog1766000000000 } from './migrations/1766000000000-bus-offsets-log';
import { BusOffsetsDigest1767000000000 } from './migrations/1767000000000-bus-offsets-digest';

/** Every migration, oldest first; the same list runs on PGlite and on PostgreSQL. */
export const MIGRATIONS = [InitialSchema1764000000000, Outbox1764100000000, OutboxBatches1765000000000, BusOffsetsLog1766000000000, BusOffsetsDigest1767000000000];
