import { AsyncLocalStorage } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type { Results } from '@electric-sql/pglite';
import type { PgliteLike } from './pglite-thread';

/** Marks the work run inside it as background work (see `Database.run`'s `background` option). */
export const backgroundWork = new AsyncLocalStorage<true>();

/**
 * A callback run synchronously when a statement issued inside it starts executing, while it holds the connection:
 * statements execute one at a time, so the calls come in the order the statements ran (EmbeddedBus orders its
 * deliveries by it).
 */
export const atExecution = new AsyncLocalStorage<() => void>();

/** How long background work may be passed over by other waiting work before it takes its turn anyway. */
export const BACKGROUND_MAX_WAIT_MS = 250;

interface Waiter {
  grant: (release: () => void) => void;
  since: number;
  background: boolean;
}

/**
 * The single connection's turn-taking. Work on an alarm's path (the gateway's publish, triage, dispatch, the
 * API) is served first come, first served; background work (recording what was already sent, live views, retention)
 * waits while such work is queued, up to BACKGROUND_MAX_WAIT_MS, so a burst of alarms is not held up behind it and
 * background work is never starved. It also knows how long the connection has gone without alarm-path work, so
 * maintenance that cannot be interrupted once started (vacuum, retention) can wait for a quiet moment.
 */
class Lease {
  private busy = false;
  private foregroundBusy = false;
  private lastForeground = 0;
  private readonly foreground: Waiter[] = [];
  private readonly background: Waiter[] = [];

  acquire(): Promise<() => void> {
    const background = backgroundWork.getStore() === true;
    return new Promise((grant) => {
      (background ? this.background : this.foreground).push({ grant, since: Date.now(), background });
      this.next();
    });
  }

  /** Milliseconds since alarm-path work last held or waited for the connection (0 while it does). */
  quietForMs(): number {
    return this.foregroundBusy || this.foreground.length > 0 ? 0 : Date.now() - this.lastForeground;
  }

  private next(): void {
    if (this.busy) return;
    const oldest = this.background[0];
    const w = oldest && (this.foreground.length === 0 || Date.now() - oldest.since >= BACKGROUND_MAX_WAIT_MS)
      ? this.background.shift()
      : this.foreground.shift();
    if (!w) return;
    this.busy = true;
    this.foregroundBusy = !w.background;
    let released = false;
    w.grant(() => {
      if (released) return;
      released = true;
      this.busy = false;
      if (!w.background) {
        this.foregroundBusy = false;
        this.lastForeground = Date.now();
      }
      this.next();
    });
  }
}

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

const TX_START = /^\s*(START TRANSACTION|BEGIN)\b/i;
const TX_END = /^\s*(COMMIT|ROLLBACK)\s*;?\s*$/i;

function commandOf(sql: string): string {
  const m = /^\s*(\w+)/.exec(sql);
  return m ? m[1].toUpperCase() : '';
}

function toPgResult(sql: string, r: Results | undefined): PgLikeResult {
  const rows = r?.rows ?? [];
  return { rows, rowCount: r?.affectedRows ?? rows.length, command: commandOf(sql), fields: r?.fields ?? [] };
}

type Callback = (err: Error | null, result?: PgLikeResult) => void;

/**
 * Lets TypeORM's postgres driver talk to PGlite as if it were a `pg` pool.
 *
 * PGlite is one connection. TypeORM runs a transaction as START TRANSACTION … COMMIT on one query runner while
 * other query runners keep issuing queries; on a single connection those would land inside the open transaction.
 * So a query runner that starts a transaction takes an exclusive lease on the database until COMMIT or ROLLBACK,
 * and every other statement waits for the lease: the semantics of a pool of one connection. The `typeorm-pglite`
 * package shares the connection without such a lease and does not report affected rows, hence this shim.
 */
export function pgliteDriver(db: PgliteLike): { Pool: new (options?: unknown) => EventEmitter; quietForMs: () => number } {
  const lease = new Lease();

  async function run(sql: string, params?: unknown[]): Promise<PgLikeResult> {
    atExecution.getStore()?.();
    if (params && params.length > 0) return toPgResult(sql, await db.query(sql, params));
    const results = await db.exec(sql);
    return toPgResult(sql, results[results.length - 1]);
  }

  class Connection extends EventEmitter {
    private releaseLease: (() => void) | null = null;

    query(sql: string, params?: unknown[] | Callback, cb?: Callback): Promise<PgLikeResult> {
      const callback = typeof params === 'function' ? params : cb;
      const values = typeof params === 'function' ? undefined : params;
      const p = this.execute(sql, values);
      if (callback) p.then((r) => callback(null, r), (e: Error) => callback(e));
      return p;
    }

    private async execute(sql: string, params?: unknown[]): Promise<PgLikeResult> {
      if (this.releaseLease) {
        if (TX_END.test(sql)) {
          try {
            return await run(sql, params);
          } finally {
            this.dropLease();
          }
        }
        return run(sql, params);
      }
      const release = await lease.acquire();
      if (TX_START.test(sql)) {
        this.releaseLease = release;
        try {
          return await run(sql, params);
        } catch (e) {
          this.dropLease();
          throw e;
        }
      }
      try {
        return await run(sql, params);
      } finally {
        release();
      }
    }

    private dropLease(): void {
      const r = this.releaseLease;
      this.releaseLease = null;
      r?.();
    }

    /** Called when TypeORM gives the connection back; an abandoned transaction is rolled back. */
    async giveBack(): Promise<void> {
      if (!this.releaseLease) return;
      try {
        await run('ROLLBACK');
      } finally {
        this.dropLease();
      }
    }
  }

  class Pool extends EventEmitter {
    constructor(_options?: unknown) {
      super();
    }
    connect(cb?: (err: Error | null, c: Connection, release: () => void) => void): Promise<Connection> {
      const c = new Connection();
      const release = () => void c.giveBack();
      cb?.(null, c, release);
      return Promise.resolve(c);
    }
    query(sql: string, params?: unknown[] | Callback, cb?: Callback): Promise<PgLikeResult> {
      return new Connection().query(sql, params, cb);
    }
    /** The PGlite instance belongs to whoever created it; closing the pool leaves it open. */
    end(cb?: (err: Error | null) => void): Promise<void> {
      cb?.(null);
      return Promise.resolve();
    }
  }

  return { Pool, quietForMs: () => lease.quietForMs() };
}
