import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';
import { prepareValue } from 'pg/lib/utils';
import type { PgliteLike } from './pglite-thread';

/** Statements worth keeping prepared: the application's reads and writes, not DDL or session commands. */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
/** Statements after which PostgreSQL may refuse a prepared plan ("cached plan must not change result type"). */
const SCHEMA_CHANGE = /^\s*(CREATE|ALTER|DROP)\b/i;

const serialize = protocol.serialize;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * PGlite with the application's statements prepared once and then executed in one call each.
 *
 * PGlite's own `query` makes six calls into the database per statement (parse, describe, bind, describe, execute,
 * sync), and PostgreSQL parses and plans the text every time. The application sends a few dozen distinct statements
 * over and over (TypeORM's and the repositories' own, multi-row ones included, since those take one array per
 * column), so each distinct text is parsed once under a name and later runs are bind, describe, execute and sync in a
 * single call: about half the time per statement (docs/performance.md). At most `capacity` statements stay prepared;
 * the least recently used is closed when another is prepared.
 *
 * Parameters are turned into text as node-postgres does (its `prepareValue`), so a statement receives the same values
 * here as TypeORM's does on PostgreSQL in distributed mode; PostgreSQL infers their types from the statement.
 * Results are parsed by PGlite's own parsers, as `query` would.
 */
export class PreparedPglite implements PgliteLike {
  /** SQL text → statement name, least recently used first. */
  private readonly prepared = new Map<string, string>();
  private named = 0;

  constructor(
    private readonly db: PGlite,
    private readonly capacity = 256,
  ) {}

  /** How many statements are prepared now (for tests). */
  get preparedCount(): number {
    return this.prepared.size;
  }

  async query(sql: string, params: unknown[] = []): Promise<Results> {
    if (!PREPARABLE.test(sql)) {
      if (SCHEMA_CHANGE.test(sql)) await this.forgetAll();
      return this.db.query(sql, params);
    }
    const name = await this.statement(sql);
    const values = params.map((v) => (v === undefined || v === null ? null : prepareValue(v)));
    const { messages } = await this.db.execProtocol(
      concat([
        serialize.bind({ statement: name, values }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    return parse.parseResults(messages, this.db.parsers)[0];
  }

  async exec(sql: string): Promise<Results[]> {
    if (SCHEMA_CHANGE.test(sql)) await this.forgetAll();
    return this.db.exec(sql);
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /** The name `sql` is prepared under, preparing it first if needed (a statement that fails to parse is not kept). */
  private async statement(sql: string): Promise<string> {
    const known = this.prepared.get(sql);
    if (known) {
      this.prepared.delete(sql);
      this.prepared.set(sql, known);
      return known;
    }
    const name = `linan_${++this.named}`;
    const parts = [serialize.parse({ name, text: sql })];
    const evicted: string[] = [];
    for (const [oldSql, oldName] of this.prepared) {
      if (this.prepared.size - evicted.length < this.capacity) break;
      evicted.push(oldSql);
      parts.push(serialize.close({ type: 'S', name: oldName }));
    }
    parts.push(serialize.sync());
    // a failed parse skips the closes after it, so the map changes only once the message went through
    await this.db.execProtocol(concat(parts));
    for (const s of evicted) this.prepared.delete(s);
    this.prepared.set(sql, name);
    return name;
  }

  private async forgetAll(): Promise<void> {
    if (this.prepared.size === 0) return;
    this.prepared.clear();
    await this.db.exec('DEALLOCATE ALL');
  }
}
