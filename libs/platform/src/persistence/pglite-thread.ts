import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Results } from '@electric-sql/pglite';

/** The part of PGlite the driver uses: one statement with parameters, or a script of statements. */
export interface PgliteLike {
  query(sql: string, params?: unknown[]): Promise<Results>;
  exec(sql: string): Promise<Results[]>;
  close(): Promise<void>;
}

type Reply = { id: number; result?: Results[] | null; error?: { message: string; code?: string; detail?: string } };

/**
 * PGlite on a worker thread (EMBEDDED_DB_THREAD=worker): the main thread's event loop stays free during bursts
 * (devices are acknowledged and read promptly), at the cost of a thread hop per statement — see docs/performance.md. Statements are sent one at a time in order (the driver's lease already serializes
 * them), results come back by structured clone (rows, Dates and JSON intact).
 */
export class PgliteThread implements PgliteLike {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: Results[] | null) => void; reject: (e: Error) => void }>();

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(Object.assign(new Error(m.error.message), m.error));
      else p.resolve(m.result ?? null);
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', (code) => this.failAll(new Error(`the database thread exited (code ${code})`)));
  }

  static async start(dataDir: string, startParams: string[]): Promise<PgliteThread> {
    // plain JavaScript beside this file, in the source tree and (copied by the build) in dist/
    const t = new PgliteThread(new Worker(join(__dirname, 'pglite.worker.js'), { workerData: { dataDir, startParams } }));
    await t.query('SELECT 1');
    return t;
  }

  private send(msg: { kind: string; sql?: string; params?: unknown[] }): Promise<Results[] | null> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...msg });
    });
  }

  async query(sql: string, params?: unknown[]): Promise<Results> {
    return (await this.send({ kind: 'query', sql, params }))![0];
  }

  async exec(sql: string): Promise<Results[]> {
    return (await this.send({ kind: 'exec', sql }))!;
  }

  async close(): Promise<void> {
    await this.send({ kind: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
