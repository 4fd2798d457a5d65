import { SystemClock, type Clock } from '../time/clock';
import { MemoryCache } from './memory.cache';

export type CacheOp = 'setIfAbsent' | 'set' | 'get' | 'delete' | 'pushRecent' | 'recent';

/** The memory cache for tests, made to fail on command the way Redis does when it is down. */
export class FakeCache extends MemoryCache {
  private failing: { ops: ReadonlySet<CacheOp>; error: Error } | null = null;
  /** Every call, in order, failed or not. */
  readonly calls: CacheOp[] = [];

  constructor(clock: Clock = new SystemClock()) {
    super(clock);
  }

  /** From now on the given operations (all by default) throw `error`, until recover(). */
  fail(ops: CacheOp[] = ['setIfAbsent', 'set', 'get', 'delete', 'pushRecent', 'recent'], error = new Error('Stream isn\'t writeable (fake Redis down)')): void {
    this.failing = { ops: new Set(ops), error };
  }

  recover(): void {
    this.failing = null;
  }

  override async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    this.check('setIfAbsent');
    return super.setIfAbsent(key, value, ttlMs);
  }

  override async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.check('set');
    return super.set(key, value, ttlMs);
  }

  override async get(key: string): Promise<string | null> {
    this.check('get');
    return super.get(key);
  }

  override async delete(key: string): Promise<void> {
    this.check('delete');
    return super.delete(key);
  }

  override async pushRecent(key: string, values: readonly string[], keep: number): Promise<void> {
    this.check('pushRecent');
    return super.pushRecent(key, values, keep);
  }

  override async recent(key: string, count: number): Promise<string[]> {
    this.check('recent');
    return super.recent(key, count);
  }

  private check(op: CacheOp): void {
    this.calls.push(op);
    if (this.failing?.ops.has(op)) throw this.failing.error;
  }
}
