import { Clock } from '../time/clock';
import { Cache } from './cache';

/** The embedded stand-in for Redis: a map with expiry, swept every minute. */
export class MemoryCache extends Cache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();
  /** Capped lists, newest first. */
  private readonly lists = new Map<string, string[]>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly clock: Clock, sweepEveryMs = 60_000) {
    super();
    this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
    this.sweeper.unref();
  }

  private live(key: string): { value: string; expiresAt: number } | undefined {
    const e = this.entries.get(key);
    if (e && e.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    if (this.live(key)) return false;
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
    return true;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.clock.now() + ttlMs });
  }

  async get(key: string): Promise<string | null> {
    return this.live(key)?.value ?? null;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
    this.lists.delete(key);
  }

  async pushRecent(key: string, values: readonly string[], keep: number): Promise<void> {
    this.lists.set(key, [...values].reverse().concat(this.lists.get(key) ?? []).slice(0, keep));
  }

  async recent(key: string, count: number): Promise<string[]> {
    return (this.lists.get(key) ?? []).slice(0, count);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
