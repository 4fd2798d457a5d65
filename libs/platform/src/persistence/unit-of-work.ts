export interface RunOptions {
  /**
   * Work off an alarm's path (recording outcomes already delivered, sweeps): where the database is one shared
   * connection (embedded mode) it lets waiting alarm-path work go first, for a bounded time. No effect elsewhere.
   */
  background?: boolean;
}

/** Runs a piece of work atomically: every repository call inside `fn` joins one transaction. */
export abstract class UnitOfWork {
  abstract run<T>(fn: () => Promise<T>, options?: RunOptions): Promise<T>;
  /** Schedules `fn` after the surrounding transaction commits (at once when there is none). */
  abstract afterCommit(fn: () => void): void;
}

/** For unit tests of use cases: no database, hooks run after `fn` resolves. */
export class InlineUnitOfWork extends UnitOfWork {
  private hooks: (() => void)[] | null = null;
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.hooks) return fn();
    this.hooks = [];
    try {
      const r = await fn();
      const hooks = this.hooks;
      this.hooks = null;
      hooks.forEach((h) => h());
      return r;
    } finally {
      this.hooks = null;
    }
  }
  afterCommit(fn: () => void): void {
    if (this.hooks) this.hooks.push(fn);
    else fn();
  }
}
