import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { PasswordHasher } from '../application/ports/user.repository';

function scrypt(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(secret, salt, keylen, opts, (e, k) => (e ? reject(e) : resolve(k))));
}

/**
 * scrypt from node:crypto (memory-hard, runs on libuv's thread pool so it never blocks the event loop).
 * Format: `scrypt$N$r$p$salt$hash` (base64url), so the cost can rise later without breaking stored hashes.
 */
export class ScryptPasswordHasher extends PasswordHasher {
  constructor(private readonly cost: { N: number; r: number; p: number } = { N: 16384, r: 8, p: 1 }) {
    super();
  }

  async hash(secret: string): Promise<string> {
    const salt = randomBytes(16);
    const { N, r, p } = this.cost;
    const key = await scrypt(secret, salt, 32, { N, r, p, maxmem: 64 * 1024 * 1024 });
    return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  async verify(secret: string, stored: string): Promise<boolean> {
    const [alg, n, r, p, salt, hash] = stored.split('$');
    if (alg !== 'scrypt' || !hash) return false;
    const expected = Buffer.from(hash, 'base64url');
    const key = await scrypt(secret, Buffer.from(salt, 'base64url'), expected.length, {
      N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024,
    });
    return timingSafeEqual(key, expected);
  }
}
