import { CallHandler, ExecutionContext, HttpException, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable, catchError, from, mergeMap, throwError } from 'rxjs';
import { DomainError, HTTP_STATUS_OF } from '@linan/platform';
import type { AuthedRequest } from './auth.decorators';
import { AuditTrail } from './audit-trail';

/**
 * Audits every action that got past the guard, with the status it ended in (the guard audits its own refusals). The
 * answer (or the error) goes on only once the row is stored.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: AuditTrail) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!AuditTrail.isAction(req)) return next.handle();
    return next.handle().pipe(
      mergeMap(async (result: unknown) => {
        await this.audit.record(req, ctx.switchToHttp().getResponse<{ statusCode: number }>().statusCode, result);
        return result;
      }),
      catchError((err: unknown) => {
        const status = err instanceof HttpException ? err.getStatus() : err instanceof DomainError ? HTTP_STATUS_OF[err.kind] : 500;
        return from(this.audit.record(req, status)).pipe(mergeMap(() => throwError(() => err)));
      }),
    );
  }
}
