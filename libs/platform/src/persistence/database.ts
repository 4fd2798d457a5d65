import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, EntityManager } from 'typeorm';
import { UnitOfWork } from './unit-of-work';

interface TxScope {
  manager: EntityManager;
  hooks: (() => void)[];
}

/**
 * The TypeORM data source plus the ambient transaction: repositories call `manager()` and get the transaction's
 * entity manager when they run inside `run()`, the plain one otherwise.
 */
export class Database extends UnitOfWork {
  private readonly scope = new AsyncLocalStorage<TxScope>();

  constructor(readonly dataSource: DataSource) {
    super();
  }

  manager(): EntityManager {
    return this.scope.getStore()?.manager ?? this.dataSource.manager;
  }

  inTransaction(): boolean {
    return this.scope.getStore() !== undefined;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.scope.getStore()) return fn();
    const hooks: (() => void)[] = [];
    const result = await this.dataSource.transaction((manager) => this.scope.run({ manager, hooks }, fn));
    for (const h of hooks) h();
    return result;
  }

  afterCommit(fn: () => void): void {
    const s = this.scope.getStore();
    if (s) s.hooks.push(fn);
    else fn();
  }

  /** Runs `fn` outside any ambient transaction (for work scheduled from inside one that must not join it). */
  outside<T>(fn: () => T): T {
    return this.scope.exit(fn);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.manager().query(sql, params) as Promise<T[]>;
  }
}
