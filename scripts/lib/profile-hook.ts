/**
 * Preloaded into the platform process by `BENCH_PROFILE=1 npm run bench` (node --require). It
 *  - starts the V8 CPU profiler at once, and its sampling heap profiler, which keeps the objects the collector took
 *    too, so it shows where the garbage comes from (one sample per 32 KiB allocated), and
 *  - counts the SQL statements the embedded driver sends PGlite, with the time each holds the database (one runs at a time),
 *    the time inside PostgreSQL proper (execProtocolRawSync) and the time spent flushing its files (syncToFs);
 *  - or, on PostgreSQL (distributed mode), the statements sent through node-postgres with the time from sending each
 *    to its answer (the client queues a connection's statements, so that includes waiting for the connection).
 * On SIGWINCH it writes all three for the window since the last signal to $BENCH_PROFILE_FILE with -1, -2 … before
 * the extension (…-N.sql.json, …-N.heapprofile, then …-N.cpuprofile) and starts a new window. SIGWINCH because Nest's shutdown hooks
 * take SIGUSR2 and node's inspector SIGUSR1. For finding where the time goes only: a profiled run is slower.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
// the config module alone (not the platform's index): this hook loads before the app and must stay light
import { readEnvironment } from '../../libs/platform/src/config/config';

const file = readEnvironment().BENCH_PROFILE_FILE ?? `linan-${process.pid}.cpuprofile`;
const session = new Session();
session.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) => session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res))));

void post('Profiler.enable')
  .then(() => post('Profiler.setSamplingInterval', { interval: 500 }))
  .then(() => post('Profiler.start'));

const startHeapSampling = () =>
  post('HeapProfiler.startSampling', { samplingInterval: 32 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
void post('HeapProfiler.enable').then(startHeapSampling);

// ---- SQL accounting -------------------------------------------------------------------------------------------

interface StatementStats {
  count: number;
  heldMs: number;
  maxMs: number;
}

let windowStart = performance.now();
let statements = new Map<string, StatementStats>();
let execSyncMs = 0;
let syncToFsMs = 0;
let syncToFsCount = 0;

const normalize = (sql: string) => sql.replace(/\s+/g, ' ').replace(/\(\$\d+(?:, ?\$\d+(?:::\w+)?)*\)(?:, \(\$\d+(?:, ?\$\d+(?:::\w+)?)*\))+/g, '(…), …').trim().slice(0, 160);

type AnyFn = (...args: unknown[]) => unknown;

function instrumentPglite(): void {
  let mod: { PGlite?: { prototype: object } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('@electric-sql/pglite') as typeof mod;
  } catch {
    return;
  }
  const proto = mod.PGlite?.prototype as Record<string, AnyFn> | undefined;
  if (!proto) return;
  // statements are timed where the driver sends them (the embedded database's one connection runs one at a time)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prepared = require('../../libs/platform/src/persistence/pglite-statements') as { PreparedPglite: { prototype: object } };
  const preparedProto = prepared.PreparedPglite.prototype as Record<string, AnyFn>;
  for (const name of ['query', 'exec']) {
    const orig = preparedProto[name];
    preparedProto[name] = function (this: unknown, ...args: unknown[]) {
      const sql = typeof args[0] === 'string' ? normalize(args[0]) : '(non-text)';
      const t = performance.now();
      return (orig.apply(this, args) as Promise<unknown>).finally(() => record(sql, performance.now() - t));
    };
  }
  const rawSync = proto.execProtocolRawSync;
  if (typeof rawSync === 'function') {
    proto.execProtocolRawSync = function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return rawSync.apply(this, args);
      } finally {
        execSyncMs += performance.now() - t;
      }
    };
  }
  const sync = proto.syncToFs;
  if (typeof sync === 'function') {
    proto.syncToFs = async function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return await sync.apply(this, args);
      } finally {
        syncToFsMs += performance.now() - t;
        syncToFsCount++;
      }
    };
  }
}
instrumentPglite();

function record(sql: string, ms: number): void {
  const s = statements.get(sql) ?? { count: 0, heldMs: 0, maxMs: 0 };
  s.count++;
  s.heldMs += ms;
  s.maxMs = Math.max(s.maxMs, ms);
  statements.set(sql, s);
}

function instrumentPg(): void {
  let mod: { Client?: { prototype: object } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('pg') as typeof mod;
  } catch {
    return;
  }
  const proto = mod.Client?.prototype as Record<string, AnyFn> | undefined;
  const orig = proto?.query;
  if (!proto || typeof orig !== 'function') return;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string } | undefined;
    const text = typeof first === 'string' ? first : typeof first?.text === 'string' ? first.text : null;
    const result = orig.apply(this, args);
    if (text === null || !(result instanceof Promise)) return result;
    const t = performance.now();
    const sql = normalize(text);
    return result.finally(() => record(sql, performance.now() - t));
  };
}
instrumentPg();

let n = 0;
process.on('SIGWINCH', () => {
  const base = file.replace(/\.cpuprofile$/, '');
  const seq = ++n;
  const sql = {
    windowMs: performance.now() - windowStart, execSyncMs, syncToFsMs, syncToFsCount,
    statements: [...statements].map(([text, s]) => ({ sql: text, ...s })).sort((a, b) => b.heldMs - a.heldMs),
  };
  windowStart = performance.now();
  statements = new Map();
  execSyncMs = syncToFsMs = syncToFsCount = 0;
  writeFileSync(`${base}-${seq}.sql.json`, JSON.stringify(sql, null, 1));
  void post('HeapProfiler.stopSampling')
    .then((r) => writeFileSync(`${base}-${seq}.heapprofile`, JSON.stringify((r as { profile: unknown }).profile)))
    .then(startHeapSampling)
    .then(() => post('Profiler.stop'))
    .then((r) => writeFileSync(`${base}-${seq}.cpuprofile`, JSON.stringify((r as { profile: unknown }).profile)))
    .then(() => post('Profiler.start'))
    .catch((e: unknown) => process.stderr.write(`profile not written: ${String(e)}\n`));
});
