import type { Logger } from 'pino';
import type { Database } from './database';
import { checkServerSettings } from './server-settings';

function fixture(settings: Record<string, string>) {
  const warnings: { obj: unknown; msg: string }[] = [];
  const log = { warn: (obj: unknown, msg: string) => warnings.push({ obj, msg }) } as unknown as Logger;
  const db = {
    outside: <T>(fn: () => Promise<T>) => fn(),
    query: async (_sql: string, [names]: [string[]]) => names.filter((n) => n in settings).map((name) => ({ name, setting: settings[name] })),
  } as unknown as Database;
  return { run: () => checkServerSettings(db, log), warnings };
}

describe('checkServerSettings', () => {
  it('warns, naming the setting, when PostgreSQL has autovacuum off', async () => {
    const f = fixture({ autovacuum: 'off', track_counts: 'on' });
    expect(await f.run()).toEqual(['autovacuum']);
    expect(f.warnings).toHaveLength(1);
    expect(f.warnings[0].msg).toMatch(/^PostgreSQL runs with autovacuum off: /);
  });

  it('names both when track_counts is off too', async () => {
    const f = fixture({ autovacuum: 'off', track_counts: 'off' });
    expect(await f.run()).toEqual(['autovacuum', 'track_counts']);
    expect(f.warnings[0].msg).toContain('autovacuum and track_counts off');
  });

  it('says nothing when both are on', async () => {
    const f = fixture({ autovacuum: 'on', track_counts: 'on' });
    expect(await f.run()).toEqual([]);
    expect(f.warnings).toHaveLength(0);
  });
});
