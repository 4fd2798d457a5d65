import { databasePerTest } from '@linan/testing';
import { BACKGROUND_MAX_WAIT_MS } from './pglite-driver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the embedded database connection', () => {
  const opened = databasePerTest();

  /** Holds the connection in a transaction (already begun on return) until `release` is called. */
  async function holdConnection(): Promise<{ release: () => void; done: Promise<void> }> {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const done = opened().database.run(async () => {
      await opened().database.query('SELECT 1');
      await gate;
    });
    await sleep(20);
    return { release, done };
  }

  /** A transaction of one statement that notes `label` in `order` when it has run. */
  function noted(order: string[], label: string, background = false): Promise<void> {
    const db = opened().database;
    return db.run(async () => void (await db.query('SELECT 1'), order.push(label)), { background });
  }

  it('serves waiting alarm-path work before background work that queued earlier', async () => {
    const db = opened().database;
    const held = await holdConnection();
    const order: string[] = [];
    const background = noted(order, 'background', true);
    const backgroundRead = db.background(() => db.query('SELECT 2').then(() => void order.push('background read')));
    await sleep(5);
    const foreground = noted(order, 'foreground');
    const plain = db.query('SELECT 4').then(() => void order.push('plain statement'));
    held.release();
    await Promise.all([held.done, background, backgroundRead, foreground, plain]);
    // within each kind, first come first served (a transaction queues when its first statement is sent)
    expect(order.slice(0, 2).sort()).toEqual(['foreground', 'plain statement']);
    expect(order.slice(2).sort()).toEqual(['background', 'background read']);
  });

  it('lets background work go first once it has waited BACKGROUND_MAX_WAIT_MS, so it is never starved', async () => {
    const held = await holdConnection();
    const order: string[] = [];
    const background = noted(order, 'background', true);
    await sleep(BACKGROUND_MAX_WAIT_MS + 30);
    const foreground = noted(order, 'foreground');
    held.release();
    await Promise.all([held.done, background, foreground]);
    expect(order).toEqual(['background', 'foreground']);
  });

  it('background work alone runs at once', async () => {
    const started = Date.now();
    await opened().database.run(() => opened().database.query('SELECT 1'), { background: true });
    expect(Date.now() - started).toBeLessThan(BACKGROUND_MAX_WAIT_MS);
  });

  /** Alarm-path statements every 20 ms for `ms`; `last()` is when the latest one finished. */
  function busyFor(ms: number): { done: Promise<void>; last: () => number } {
    let last = 0;
    const done = (async () => {
      for (const until = Date.now() + ms; Date.now() < until; await sleep(20)) {
        await opened().database.query('SELECT 1');
        last = Date.now();
      }
    })();
    return { done, last: () => last };
  }

  it('waits for a quiet moment: alarm-path work resets it, background work does not', async () => {
    const db = opened().database;
    await db.query('SELECT 1');
    await sleep(400);
    await db.background(() => db.query('SELECT 2'));
    let started = Date.now();
    await db.quiet(300, 5_000);
    // quiet for 400 ms already; had the background statement counted, this would wait 300 ms
    expect(Date.now() - started).toBeLessThan(150);

    const busy = busyFor(300);
    await sleep(30);
    started = Date.now();
    await db.quiet(100, 5_000);
    const resolved = Date.now();
    await busy.done;
    // statements ran after the wait began, and it ended only 100 ms after the last of them (a stalled machine may
    // end the load early, so its length is not asserted)
    expect(busy.last()).toBeGreaterThan(started);
    expect(resolved - busy.last()).toBeGreaterThanOrEqual(95);
  });

  it('stops waiting for a quiet moment after maxWaitMs, so sustained load does not hold maintenance off for ever', async () => {
    const busy = busyFor(800);
    await sleep(30);
    const started = Date.now();
    await opened().database.quiet(1_000, 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(1_000); // without the limit: the load ends ~770 ms in, then 1,000 ms of quiet
    await busy.done;
  });
});
