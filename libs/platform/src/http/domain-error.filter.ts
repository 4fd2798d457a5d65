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

/**
 * The one place errors become HTTP: domain errors by kind, Nest's own HTTP exceptions as they are, anything else a
 * 500 carrying an `errorId` that is also in the log line.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  constructor(private readonly log: RootLogger) {}

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
      const body = exception.getResponse();
      res.status(exception.getStatus()).json(typeof body === 'string' ? { statusCode: exception.getStatus(), message: body } : body);
      return;
    }
    const errorId = randomUUID();
    this.log.error({ err: exception, errorId, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ statusCode: 500, message: 'internal error', errorId });
  }
}
