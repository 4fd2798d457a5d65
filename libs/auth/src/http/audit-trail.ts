import { Injectable } from '@nestjs/common';
import { Clock, Database, RootLogger } from '@linan/platform';
import { AuditOrmEntity } from '../adapters/user.orm-entity';
import type { AuthedRequest } from './auth.decorators';

/**
 * Writes one audit row per action (any request that is not a read), allowed or refused: who, what, on which
 * record, from where, with which HTTP outcome. Bodies are not stored: they may hold personal data and passwords.
 * The row is stored before the answer is sent, so an answered action is on record (and rows keep the order of the
 * actions of one client); a failed write is logged and does not change the answer: the action itself has happened.
 */
@Injectable()
export class AuditTrail {
  constructor(private readonly db: Database, private readonly clock: Clock, private readonly log: RootLogger) {}

  static isAction(req: AuthedRequest): boolean {
    return !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
  }

  async record(req: AuthedRequest, outcome: number, result?: unknown): Promise<void> {
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const param = req.params?.id;
    const resultId = result && typeof result === 'object' && 'id' in result ? String((result as { id: unknown }).id) : null;
    const row = {
      at: new Date(this.clock.now()),
      actorId: req.actor?.id ?? null,
      actorName: req.actor?.username ?? (typeof body.username === 'string' ? body.username.slice(0, 64) : null),
      actorRole: req.actor?.role ?? null,
      action: `${req.method} ${route}`,
      targetType: route.split('/')[3] ?? null,
      targetId: (typeof param === 'string' ? param : null) ?? resultId,
      outcome,
      ip: req.ip ?? null,
      details: {},
    } satisfies Partial<AuditOrmEntity>;
    try {
      await this.db.outside(() => this.db.dataSource.getRepository(AuditOrmEntity).insert(row as never));
    } catch (err) {
      this.log.error({ err, action: row.action }, 'audit row not written');
    }
  }
}
