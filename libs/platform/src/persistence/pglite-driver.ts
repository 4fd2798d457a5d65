import { EventEmitter } from 'node:events';
import type { Results } from '@electric-sql/pglite';
import type { PgliteLike } from './pglite-thread';

/**
 * Lets TypeORM's postgres driver talk to PGlite as if it were a `pg` pool.
 *
 * PGlite is one connection. TypeORM runs a transaction as START TRANSACTION … COMMIT on one query runner while
 * other query runners keep issuing queries; on a single connection those would land inside the open transaction.
 * So a query runner that starts a transaction takes an exclusive lease on the database until COMMIT or ROLLBACK,
 * and every other statement waits for the lease: the semantics of a pool of one connection. The `typeorm-pglite`
 * package shares the connection without such a lease and does not report affected rows, hence this shim.
 */
class Lease {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
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

export function pgliteDriver(db: PgliteLike): { Pool: new (options?: unknown) => EventEmitter } {
  const lease = new Lease();

  async function run(sql: string, params?: unknown[]): Promise<PgLikeResult> {
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

  return { Pool };
}
