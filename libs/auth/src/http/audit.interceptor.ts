import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, tap } from 'rxjs';
import { DomainError, HTTP_STATUS_OF } from '@linan/platform';
import type { AuthedRequest } from './auth.decorators';
import { AuditTrail } from './audit-trail';

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
          this.audit.record(req, err instanceof HttpException ? err.getStatus() : err instanceof DomainError ? HTTP_STATUS_OF[err.kind] : 500),
      }),
    );
  }
}
