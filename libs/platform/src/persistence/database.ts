import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';
import { backgroundWork } from './pglite-driver';
import { UnitOfWork, type RunOptions } from './unit-of-work';

/** Database.quiet's defaults: a second without alarm-path work, waited for at most ten minutes. */
export const QUIET_MS = 1_000;
export const QUIET_MAX_WAIT_MS = 10 * 60_000;

/** How long a quiet spell to wait for, and for how long at most (Database.quiet). */
export interface QuietOptions {
  quietMs?: number;
  maxWaitMs?: number;
}

interface TxScope {
  manager: EntityManager;
  hooks: (() => void)[];
  /** Told the outcome whichever it is (afterTransaction). */
  outcomes: ((committed: boolean) => void)[];
  beforeCommit: (() => Promise<void>)[];
  locals: Map<symbol, unknown>;
}

/**
 * The TypeORM data source plus the ambient transaction: repositories call `manager()` and get the transaction's
 * entity manager when they run inside `run()`, the plain one otherwise.
 */
export class Database extends UnitOfWork {
  private readonly scope = new AsyncLocalStorage<TxScope>();

  /**
   * @param quietForMs how long the connection has gone without alarm-path work; only the embedded database's
   *   single connection knows (PostgreSQL serves other work on other connections, so it is always quiet there).
   */
  constructor(
    readonly dataSource: DataSource,
    private readonly quietForMs: () => number = () => Number.POSITIVE_INFINITY,
  ) {
    super();
  }

  /**
   * Resolves once no alarm-path work has used the database for `quietMs`, or after `maxWaitMs` at the latest. For
   * maintenance that holds the embedded database's one connection for tens of milliseconds and cannot be
   * interrupted once started (vacuum, retention): it runs between bursts of alarms, not in the middle of one, and
   * still runs under sustained load. At once on PostgreSQL.
   */
  async quiet(quietMs = QUIET_MS, maxWaitMs = QUIET_MAX_WAIT_MS): Promise<void> {
    const deadline = Date.now() + maxWaitMs;
    for (let quiet = this.quietForMs(); quiet < quietMs && Date.now() < deadline; quiet = this.quietForMs()) {
      await new Promise((r) => setTimeout(r, Math.max(10, Math.min(quietMs - quiet, deadline - Date.now()))));
    }
  }

  /**
   * Maintenance: `fn` once the database is quiet (`quiet`), outside any ambient transaction, as background work
   * (alarm-path work that arrives meanwhile still goes first on the embedded connection).
   */
  async whenQuiet<T>(fn: () => Promise<T>, { quietMs, maxWaitMs }: QuietOptions = {}): Promise<T> {
    await this.quiet(quietMs, maxWaitMs);
    return this.outside(() => this.background(fn));
  }

  manager(): EntityManager {
    return this.scope.getStore()?.manager ?? this.dataSource.manager;
  }

  inTransaction(): boolean {
    return this.scope.getStore() !== undefined;
  }

  async run<T>(fn: () => Promise<T>, options?: RunOptions): Promise<T> {
    if (this.scope.getStore()) return fn();
    if (options?.background && !backgroundWork.getStore()) return this.background(() => this.run(fn));
    const hooks: (() => void)[] = [];
    const outcomes: ((committed: boolean) => void)[] = [];
    let result: T;
    try {
      result = await this.dataSource.transaction((manager) => {
        const scope: TxScope = { manager, hooks, outcomes, beforeCommit: [], locals: new Map() };
        return this.scope.run(scope, async () => {
          const r = await fn();
          for (const b of scope.beforeCommit) await b();
          return r;
        });
      });
    } catch (err) {
      for (const o of outcomes) o(false);
      throw err;
    }
    for (const o of outcomes) o(true);
    for (const h of hooks) h();
    return result;
  }

  /**
   * Per-transaction state: the first call in a transaction creates it with `init` and registers `flush` to run
   * inside the transaction just before it commits (used to write all of a transaction's outbox rows at once).
   */
  transactionLocal<T>(key: symbol, init: () => T, flush: (value: T) => Promise<void>): T {
    const s = this.scope.getStore();
    if (!s) throw new Error('transactionLocal needs a transaction');
    if (!s.locals.has(key)) {
      const value = init();
      s.locals.set(key, value);
      s.beforeCommit.push(() => flush(value));
    }
    return s.locals.get(key) as T;
  }

  afterCommit(fn: () => void): void {
    const s = this.scope.getStore();
    if (s) s.hooks.push(fn);
    else fn();
  }

  /**
   * Tells `fn` whether the surrounding transaction committed (true) or rolled back (false), once it has; at once
   * (true) when there is none. Runs before the afterCommit hooks.
   */
  afterTransaction(fn: (committed: boolean) => void): void {
    const s = this.scope.getStore();
    if (s) s.outcomes.push(fn);
    else fn(true);
  }

  /** Runs `fn` (statements outside a transaction too) as background work: see RunOptions.background. */
  background<T>(fn: () => Promise<T>): Promise<T> {
    return backgroundWork.run(true, fn);
  }

  /** Runs `fn` as alarm-path work even when called from background work (for work it schedules on others' behalf). */
  foreground<T>(fn: () => T): T {
    return backgroundWork.exit(fn);
  }

  /** Runs `fn` outside any ambient transaction (for work scheduled from inside one that must not join it). */
  outside<T>(fn: () => T): T {
    return this.scope.exit(fn);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.manager().query(sql, params) as Promise<T[]>;
  }
}
