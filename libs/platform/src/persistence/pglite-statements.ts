import type { PGlite, Results } from '@electric-sql/pglite';
import { prepareValue } from 'pg/lib/utils';
import { serialize, type DatabaseError } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser';
import type { BackendMessage, CommandCompleteMessage, DataRowMessage, RowDescriptionMessage } from 'pg-protocol/dist/messages';
import type { PgliteLike } from './pglite-thread';

/** Statements worth keeping prepared: the application's reads and writes, not DDL or session commands. */
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
/** Statements after which PostgreSQL may refuse a prepared plan ("cached plan must not change result type"). */
const SCHEMA_CHANGE = /^\s*(CREATE|ALTER|DROP)\b/i;

/** The same after every bind: describe the portal, execute it, sync. */
const RUN_PORTAL = Buffer.concat([serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);

/** Which command tags count toward `affectedRows`, as PGlite's own `query` counts them. */
const AFFECTING = new Set(['INSERT', 'UPDATE', 'DELETE', 'COPY', 'MERGE']);

type FieldParser = (value: string, typeId: number) => unknown;

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
 *
 * The messages to and from the database are written and read by node-postgres's own protocol code (pg-protocol),
 * which works on Buffers natively, instead of PGlite's, which measured string lengths character by character in
 * JavaScript and copied every reply message (a tenth of the alarm path's time; docs/performance.md). Field values
 * are converted by PGlite's type parsers, so rows come out exactly as PGlite's `query` returns them.
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
    const reply = new Reply(this.db.parsers as Record<number, FieldParser>);
    const parser = new Parser();
    await this.db.execProtocolRawStream(Buffer.concat([serialize.bind({ statement: name, values }), RUN_PORTAL]), {
      // PGlite's file systems in Node write through at once: there is nothing to sync (and no lock to take)
      syncToFs: false,
      // a view of the database's memory, valid only during the call: copied before the parser may keep part of it
      onRawData: (chunk) => parser.parse(Buffer.from(chunk), reply.take),
    });
    return reply.result();
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
    await this.db.execProtocol(Buffer.concat(parts));
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

/** Collects one statement's reply from the protocol messages, as PGlite's `query` would return it. */
class Reply {
  private fields: { name: string; dataTypeID: number }[] = [];
  private parse: (FieldParser | undefined)[] = [];
  private readonly rows: Record<string, unknown>[] = [];
  private affectedRows = 0;
  private error: DatabaseError | null = null;

  constructor(private readonly parsers: Record<number, FieldParser>) {}

  readonly take = (msg: BackendMessage): void => {
    switch (msg.name) {
      case 'rowDescription': {
        const fields = (msg as RowDescriptionMessage).fields;
        this.fields = fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }));
        this.parse = fields.map((f) => this.parsers[f.dataTypeID]);
        break;
      }
      case 'dataRow': {
        const values = (msg as DataRowMessage).fields as (string | null)[];
        const row: Record<string, unknown> = {};
        for (let i = 0; i < values.length; i++) {
          const v = values[i];
          const parse = this.parse[i];
          row[this.fields[i].name] = v === null ? null : parse ? parse(v, this.fields[i].dataTypeID) : v;
        }
        this.rows.push(row);
        break;
      }
      case 'commandComplete': {
        const words = (msg as CommandCompleteMessage).text.split(' ');
        const n = parseInt(words[words.length - 1], 10);
        if (AFFECTING.has(words[0]) && !Number.isNaN(n)) this.affectedRows += n;
        break;
      }
      case 'error':
        this.error ??= msg as DatabaseError;
        break;
    }
  };

  result(): Results {
    if (this.error) throw this.error;
    return { rows: this.rows, fields: this.fields, affectedRows: this.affectedRows };
  }
}
