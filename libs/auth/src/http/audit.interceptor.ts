import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { DomainError } from '@linan/platform';
import type { AuthedRequest } from './auth.decorators';
import { AuditTrail } from './audit-trail';

const DOMAIN_STATUS: Record<string, number> = { not_found: 404, conflict: 409, invalid: 400, forbidden: 403, unauthorized: 401, unavailable: 503 };

/** Audits every action that got past the guard, with the status it ended in (the guard audits its own refusals). */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditTrail) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!AuditTrail.isAction(req)) return next.handle();
    return next.handle().pipe(
      tap({
        next: (result) => this.audit.record(req, ctx.switchToHttp().getResponse<{ statusCode: number }>().statusCode, result),
        error: (err: unknown) =>
          this.audit.record(req, err instanceof HttpException ? err.getStatus() : err instanceof DomainError ? DOMAIN_STATUS[err.kind] : 500),
      }),
    );
  }
}
