import { Database, OPENED_DATABASE, type OpenedDatabase } from '@linan/platform';
import { startHarness, type Harness } from '@linan/testing';

/**
 * The embedded database's vacuum, analyze and checkpoints wait for a quiet moment (Database.whenQuiet: no alarm-path
 * work for a second), up to ten minutes. The platform's own polls must not fill every second: the escalation timers'
 * look for due alerts (every TIMER_POLL_MS) did, so maintenance waited its ten minutes, and over 3,000 alarms an
 * alarm's time to its first dispatch doubled (docs/performance.md, "Embedded mode").
 */
describe('embedded database upkeep while the platform idles', () => {
  let h: Harness;
  beforeAll(async () => {
    // the timers looked for every 50 ms: far more often than the quiet second maintenance waits for
    h = await startHarness({ TIMER_POLL_MS: '50' });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('finds the database quiet: the timers\' look for due alerts is not alarm-path work', async () => {
    expect(h.platform.app.get<OpenedDatabase>(OPENED_DATABASE).kind).toBe('pglite');
    const db = h.platform.app.get(Database);
    const started = Date.now();
    await db.quiet(500, 5_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
