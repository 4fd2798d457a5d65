import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { Clock, Database, DomainError, RootLogger } from '@linan/platform';
import { AuditOrmEntity } from '../adapters/user.orm-entity';
import type { AuthedRequest } from './auth.decorators';

const DOMAIN_STATUS: Record<string, number> = { not_found: 404, conflict: 409, invalid: 400, forbidden: 403, unauthorized: 401, unavailable: 503 };

/**
 * An audit row for every action (every request that is not a read), successful or not: who, what, on which
 * record, from where, with which result. Bodies are not stored: they may hold personal data and passwords.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly db: Database, private readonly clock: Clock, private readonly log: RootLogger) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next.handle();
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const write = (outcome: number, result?: unknown) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const param = req.params?.id;
      const targetId = (typeof param === 'string' ? param : undefined) ?? (result && typeof result === 'object' && 'id' in result ? String((result as { id: unknown }).id) : null);
      const row = {
        at: new Date(this.clock.now()),
        actorId: req.actor?.id ?? null,
        actorName: req.actor?.username ?? (typeof body.username === 'string' ? body.username : null),
        actorRole: req.actor?.role ?? null,
        action: `${req.method} ${route}`,
        targetType: route.split('/')[3] ?? null,
        targetId,
        outcome,
        ip: req.ip ?? null,
        details: {},
      } satisfies Partial<AuditOrmEntity>;
      this.db.dataSource.getRepository(AuditOrmEntity).insert(row as never).catch((err) => this.log.error({ err }, 'audit row not written'));
    };
    return next.handle().pipe(
      tap({
        next: (result) => write(ctx.switchToHttp().getResponse<{ statusCode: number }>().statusCode, result),
        error: (err: unknown) =>
          write(err instanceof HttpException ? err.getStatus() : err instanceof DomainError ? DOMAIN_STATUS[err.kind] : 500),
      }),
    );
  }
}
