import { randomUUID } from 'node:crypto';
import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus } from '@nestjs/common';
import type { Request, Response } from 'express';
import { DomainError, type ErrorKind } from '@linan/contracts';
import { RootLogger } from '../logging/root-logger';

/** The HTTP status of each kind of domain error (also used by the audit trail). */
export const HTTP_STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  invalid: HttpStatus.BAD_REQUEST,
  forbidden: HttpStatus.FORBIDDEN,
  unauthorized: HttpStatus.UNAUTHORIZED,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

/** Codes for the HTTP exceptions that come without one (Nest's routing, pipes and guards). */
const CODE_OF_STATUS: Readonly<Record<number, string>> = {
  [HttpStatus.BAD_REQUEST]: 'REQUEST.INVALID',
  [HttpStatus.UNAUTHORIZED]: 'AUTH.TOKEN_REQUIRED',
  [HttpStatus.FORBIDDEN]: 'AUTH.FORBIDDEN',
  [HttpStatus.NOT_FOUND]: 'REQUEST.NOT_FOUND',
  [HttpStatus.METHOD_NOT_ALLOWED]: 'REQUEST.METHOD_NOT_ALLOWED',
  [HttpStatus.PAYLOAD_TOO_LARGE]: 'REQUEST.TOO_LARGE',
  [HttpStatus.TOO_MANY_REQUESTS]: 'REQUEST.RATE_LIMITED',
};

/** How long a client is asked to wait before trying again while the database does not answer (Retry-After). */
export const DATABASE_RETRY_AFTER_S = 5;

/**
 * The one place errors become HTTP: domain errors by kind, Nest's own HTTP exceptions as they are, anything else a
 * 500 carrying an `errorId` that is also in the log line, or a 503 `SERVICE.DATABASE_UNAVAILABLE` with Retry-After
 * when the database does not answer (an outage, not a fault of the request: a console or an installer's app can say
 * so and try again).
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  /** `databaseAnswers`: whether the app's database answers right now (absent in an app without one). */
  constructor(private readonly log: RootLogger, private readonly databaseAnswers?: () => Promise<boolean>) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const res = ctx.getResponse<Response>();
    const req = ctx.getRequest<Request>();
    if (exception instanceof DomainError) {
      res.status(HTTP_STATUS_OF[exception.kind]).json({
        statusCode: HTTP_STATUS_OF[exception.kind], code: exception.code, message: exception.message, ...(exception.details ?? {}),
      });
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const answer = typeof body === 'string' ? { statusCode: status, message: body } : (body as Record<string, unknown>);
      // Nest's own exceptions (an unknown route, the login limit) carry no code: every answer names one
      res.status(status).json('code' in answer ? answer : { ...answer, code: CODE_OF_STATUS[status] ?? `HTTP.${status}` });
      return;
    }
    const errorId = randomUUID();
    const where = { err: exception, errorId, method: req.method, path: req.path };
    void (this.databaseAnswers?.() ?? Promise.resolve(true)).then((up) => {
      if (up) this.log.error(where, 'unhandled error');
      else this.log.warn(where, 'request failed: the database does not answer');
      // a response already under way (a stream that failed midway) can only be cut short
      if (res.headersSent) return void res.end();
      if (up) return void res.status(500).json({ statusCode: 500, message: 'internal error', errorId });
      res.status(503).setHeader('Retry-After', String(DATABASE_RETRY_AFTER_S));
      res.json({ statusCode: 503, code: 'SERVICE.DATABASE_UNAVAILABLE', message: 'the database does not answer; try again shortly', errorId });
    }).catch((err: unknown) => this.log.error({ err, errorId }, 'the error response could not be sent'));
  }
}
