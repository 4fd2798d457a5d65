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

/**
 * A fix to kafkajs, applied the first time the returned function is called and only to FIXED_KAFKAJS_VERSION:
 * another release's files may be laid out differently, so nothing of it is loaded. `apply` loads what it changes and
 * returns whether it found it as expected. Later calls report the first outcome.
 */
export function kafkajsFix(apply: () => boolean): () => KafkajsFixOutcome {
  let outcome: KafkajsFixOutcome['outcome'] | null = null;
  return () => {
    const version = kafkajsVersion();
    outcome ??= version === FIXED_KAFKAJS_VERSION && apply() ? 'fixed' : 'skipped';
    return { outcome, version };
  };
}
