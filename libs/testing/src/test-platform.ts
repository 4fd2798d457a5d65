import pino from 'pino';
import { EmbeddedBus, loadConfig, readEnvironment, openDatabase, type AppConfig, type Entities, type OpenedDatabase, type RawEnv } from '@linan/platform';

export const silentLogger = pino({ level: readEnvironment().TEST_LOG_LEVEL ?? 'silent' });

export function testConfig(env: RawEnv = {}): AppConfig {
  return loadConfig({ DATA_DIR: 'memory://', ADMIN_PASSWORD: 'test-admin-pw', JWT_SECRET: 'x'.repeat(40), ...env });
}

export async function openTestDatabase(env: RawEnv = {}, entities: Entities = []): Promise<OpenedDatabase> {
  return openDatabase(testConfig(env), entities);
}

/**
 * A fresh in-memory embedded database for each test of the calling `describe` block (jest hooks); call the returned
 * function inside a test to get it.
 */
export function databasePerTest(env: RawEnv = {}): () => OpenedDatabase {
  let opened: OpenedDatabase | undefined;
  beforeEach(async () => {
    opened = await openTestDatabase(env);
  });
  afterEach(async () => {
    await opened?.close();
    opened = undefined;
  });
  return () => {
    if (!opened) throw new Error('databasePerTest: the database exists only inside a test');
    return opened;
  };
}

export function testBus(opened: OpenedDatabase, overrides: Partial<ConstructorParameters<typeof EmbeddedBus>[1]> = {}): EmbeddedBus {
  return new EmbeddedBus(opened.database, {
    partitions: 4, pollMs: 50, retry: { maxAttempts: 3, baseDelayMs: 5 }, ...overrides,
  }, silentLogger);
}

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
