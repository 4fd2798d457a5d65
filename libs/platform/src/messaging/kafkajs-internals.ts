/**
 * Access to kafkajs's own modules for the two fixes the Kafka bus applies to it (kafkajs-request-queue.ts,
 * kafkajs-produce-encoder.ts). Both were written against one release and leave any other as it is.
 */
import { createRequire } from 'node:module';

/** The release the fixes were written against (the last kafkajs release). */
export const FIXED_KAFKAJS_VERSION = '2.2.4';

// resolved from kafkajs's own entry, so a module loaded here is the one kafkajs itself uses (also under jest)
const load = createRequire(require.resolve('kafkajs'));

export function kafkajsVersion(): string {
  return (load('./package.json') as { version: string }).version;
}

/** One of kafkajs's modules by its path inside the package, e.g. `./src/protocol/encoder.js`. */
export function kafkajsModule<T>(path: string): T {
  return load(path) as T;
}

export interface KafkajsFixOutcome {
  outcome: 'fixed' | 'skipped';
  version: string;
}
