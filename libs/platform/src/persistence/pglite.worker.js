'use strict';
// Runs the embedded database (PGlite) on its own thread, so statements execute in parallel with the main
// thread's work (MQTT, HTTP, the application) instead of blocking its event loop. Plain JavaScript on purpose:
// worker threads load it with Node's own loader, from the source tree and from dist/ alike.
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require('@electric-sql/pglite');

function plainError(e) {
  return { message: e && e.message ? e.message : String(e), code: e && e.code, detail: e && e.detail, severity: e && e.severity };
}

const ready = PGlite.create({ dataDir: workerData.dataDir === 'memory://' ? undefined : workerData.dataDir, startParams: workerData.startParams });

parentPort.on('message', async (m) => {
  try {
    const db = await ready;
    if (m.kind === 'close') {
      await db.close();
      parentPort.postMessage({ id: m.id, result: null });
      return;
    }
    const r = m.kind === 'exec' ? await db.exec(m.sql) : await db.query(m.sql, m.params);
    const results = Array.isArray(r) ? r : [r];
    parentPort.postMessage({
      id: m.id,
      result: results.map((x) => ({ rows: x.rows, affectedRows: x.affectedRows, fields: x.fields })),
    });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: plainError(e) });
  }
});
