import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';
import { withTimeout } from '../time/with-timeout';
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
  /** Writes held for the transaction's next statement or its commit (Database.write). */
  held: HeldWrite[];
}

interface HeldWrite {
  sql: string;
  params: unknown[];
  onRows?: (rows: Record<string, unknown>[]) => void;
}

const RETURNING = /\bRETURNING\b/i;
const TARGET = /^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([\w."]+)/i;

/** The table a held write changes (it must be an INSERT, UPDATE or DELETE). */
function targetOf(sql: string): string {
  const m = TARGET.exec(sql);
  if (!m) throw new Error(`Database.write takes an INSERT, UPDATE or DELETE, not: ${sql.slice(0, 60)}`);
  return m[1].replace(/"/g, '').toLowerCase();
}

/**
 * Held writes in the order they were made, cut into runs that can share one statement: a write to a table an earlier
 * write of the run changed starts a new run, because sibling CTEs do not see each other's rows (an update would miss
 * the row inserted just before it).
 */
export function runsOfWrites<W extends { sql: string }>(writes: readonly W[]): W[][] {
  const runs: W[][] = [];
  let tables = new Set<string>();
  for (const w of writes) {
    const table = targetOf(w.sql);
    if (!runs.length || tables.has(table)) {
      runs.push([]);
      tables = new Set();
    }
    runs[runs.length - 1].push(w);
    tables.add(table);
  }
  return runs;
}

/**
 * Held writes as one statement: each a data-modifying CTE with its placeholders renumbered, answered with its
 * RETURNING rows (as JSON) where the caller wants them and its row count otherwise. PostgreSQL runs them all in one
 * round trip. Sibling CTEs see the same snapshot, so none may read rows another writes: each changes a table of its
 * own (`runsOfWrites`) and reads no other table (foreign keys are checked at the end of the statement, and see them).
 */
export function combineWrites(writes: readonly HeldWrite[]): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const ctes = writes.map((w, i) => {
    const offset = params.length;
    params.push(...w.params);
    const text = offset ? w.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`) : w.sql;
    return `w${i} AS (${text}${RETURNING.test(w.sql) ? '' : ' RETURNING 1'})`;
  });
  const answers = writes.map((w, i) => (w.onRows ? `(SELECT coalesce(json_agg(w${i}), '[]'::json) FROM w${i}) AS r${i}` : `(SELECT count(*) FROM w${i})::int AS r${i}`));
  return { sql: `WITH ${ctes.join(', ')} SELECT ${answers.join(', ')}`, params };
}

/** TypeORM's answer to UPDATE and DELETE: rows are objects, so an array and a number can be nothing else. */
const isRowsAndCount = (a: unknown): a is [unknown[], number] => Array.isArray(a) && a.length === 2 && Array.isArray(a[0]) && typeof a[1] === 'number';

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
        const scope: TxScope = { manager, hooks, outcomes, beforeCommit: [], locals: new Map(), held: [] };
        const send = holdingRunner(scope);
        return this.scope.run(scope, async () => {
          try {
            const r = await fn();
            for (const b of scope.beforeCommit) await b();
            await sendHeld(scope, send);
            return r;
          } catch (err) {
            // the transaction rolls back: what is still held must not go out ahead of its ROLLBACK
            scope.held.length = 0;
            throw err;
          }
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

  /** A statement's rows. (TypeORM answers a bare UPDATE or DELETE with `[rows, affected count]`: the rows here too.) */
  async query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    const answer: unknown = await this.manager().query(sql, params);
    return (isRowsAndCount(answer) ? answer[0] : answer) as T[];
  }

  /**
   * Whether the database answers a trivial query within `timeoutMs`, outside any transaction: what tells "the
   * database is down" from a failure of the work itself (consumers hold their partitions, the API answers 503).
   */
  answers(timeoutMs = 2_000): Promise<boolean> {
    return withTimeout(this.outside(() => this.query('SELECT 1')), timeoutMs, 'database check timed out').then(() => true, () => false);
  }

  /**
   * A write whose answer the work does not wait for (an INSERT, UPDATE or DELETE that reads no table but the one it
   * changes). Inside a transaction it is held and sent with the transaction's other held writes as one statement
   * (`combineWrites`; a write to a table already written by one of them waits for the next one): before the transaction's
   * next statement of any kind, so everything after sees it as if it had run at once, or just before the commit. A
   * transaction's trailing writes thus cost one round trip, not one each. `onRows`, for a statement with a RETURNING
   * clause, gets its rows as JSON (numbers and strings) when it has run, and may throw to fail the transaction.
   * Outside a transaction it runs at once.
   */
  async write<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params: unknown[], onRows?: (rows: R[]) => void): Promise<void> {
    targetOf(sql);
    if (onRows && !RETURNING.test(sql)) throw new Error('Database.write: onRows needs a RETURNING clause');
    const s = this.scope.getStore();
    if (!s) {
      const rows = await this.query<R>(sql, params);
      onRows?.(rows);
      return;
    }
    s.held.push({ sql, params, onRows: onRows as HeldWrite['onRows'] });
  }
}

type Send = (sql: string, params: unknown[]) => Promise<unknown>;

/**
 * Makes every statement of the transaction's query runner first send the writes held so far, and returns the
 * runner's own query for sending them. Covers statements of repositories and query builders too, not only `query`.
 */
function holdingRunner(scope: TxScope): Send {
  const runner = scope.manager.queryRunner;
  if (!runner) throw new Error('a transaction without a query runner');
  const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
  const send: Send = (sql, params) => query(sql, params);
  runner.query = (async (...args: unknown[]) => {
    await sendHeld(scope, send);
    return query(...args);
  }) as typeof runner.query;
  return send;
}

async function sendHeld(scope: TxScope, send: Send): Promise<void> {
  if (!scope.held.length) return;
  for (const writes of runsOfWrites(scope.held.splice(0))) {
    const { sql, params } = combineWrites(writes);
    const [answer] = (await send(sql, params)) as Record<string, unknown>[];
    writes.forEach((w, i) => w.onRows?.(answer[`r${i}`] as Record<string, unknown>[]));
  }
}
