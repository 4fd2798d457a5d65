import { databasePerTest } from '@linan/testing';
import { BACKGROUND_MAX_WAIT_MS } from './pglite-driver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the embedded database connection', () => {
  const opened = databasePerTest();

  /** Holds the connection in a transaction until `release` is called. */
  function holdConnection(): { release: () => void; done: Promise<void> } {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const done = opened().database.run(async () => {
      await opened().database.query('SELECT 1');
      await gate;
    });
    return { release, done };
  }

  it('serves waiting alarm-path work before background work that queued earlier', async () => {
    const db = opened().database;
    const held = holdConnection();
    await sleep(20);
    const order: string[] = [];
    const background = db.run(async () => void (await db.query('SELECT 1'), order.push('background')), { background: true });
    const backgroundRead = db.background(() => db.query('SELECT 2').then(() => void order.push('background read')));
    await sleep(5);
    const foreground = db.run(async () => void (await db.query('SELECT 3'), order.push('foreground')));
    const plain = db.query('SELECT 4').then(() => void order.push('plain statement'));
    held.release();
    await Promise.all([held.done, background, backgroundRead, foreground, plain]);
    // within each kind, first come first served (a transaction queues when its first statement is sent)
    expect(order.slice(0, 2).sort()).toEqual(['foreground', 'plain statement']);
    expect(order.slice(2).sort()).toEqual(['background', 'background read']);
  });

  it('lets background work go first once it has waited BACKGROUND_MAX_WAIT_MS, so it is never starved', async () => {
    const db = opened().database;
    const held = holdConnection();
    await sleep(20);
    const order: string[] = [];
    const background = db.run(async () => void (await db.query('SELECT 1'), order.push('background')), { background: true });
    await sleep(BACKGROUND_MAX_WAIT_MS + 30);
    const foreground = db.run(async () => void (await db.query('SELECT 2'), order.push('foreground')));
    held.release();
    await Promise.all([held.done, background, foreground]);
    expect(order).toEqual(['background', 'foreground']);
  });

  it('background work alone runs at once', async () => {
    const started = Date.now();
    await opened().database.run(() => opened().database.query('SELECT 1'), { background: true });
    expect(Date.now() - started).toBeLessThan(BACKGROUND_MAX_WAIT_MS);
  });
});
