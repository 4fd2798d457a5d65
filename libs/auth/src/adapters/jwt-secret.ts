import { randomBytes } from 'node:crypto';
import type { Database } from '@linan/platform';

/** JWT_SECRET when configured; otherwise one generated at first start and kept in the database, so tokens survive restarts. */
export async function resolveJwtSecret(configured: string | undefined, db: Database): Promise<string> {
  if (configured) return configured;
  const candidate = randomBytes(48).toString('base64url');
  await db.query(`INSERT INTO settings (key, value) VALUES ('jwt_secret', $1) ON CONFLICT (key) DO NOTHING`, [candidate]);
  const rows = await db.query<{ value: string }>(`SELECT value FROM settings WHERE key = 'jwt_secret'`);
  return rows[0].value;
}
