import { HttpException } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** The largest request body the API reads (JSON or form); larger ones get 413 REQUEST.TOO_LARGE. */
export const REQUEST_BODY_LIMIT_KB = 100;

/** What body-parser (through http-errors, raw-body and zlib) puts on the errors it passes on. */
interface BodyReadError {
  status?: number;
  type?: string;
  /** zlib's code for a body that does not decompress (Z_DATA_ERROR, Z_BUF_ERROR …). */
  code?: string;
  encoding?: string;
  charset?: string;
  message?: string;
}

function answer(e: BodyReadError): { status: number; code: string; message: string } | null {
  switch (e.type) {
    case 'entity.parse.failed':
      return { status: 400, code: 'REQUEST.MALFORMED_JSON', message: `the body is not a JSON object or array: ${e.message}` };
    case 'entity.too.large':
    case 'parameters.too.many':
      return { status: 413, code: 'REQUEST.TOO_LARGE', message: `the body is larger than the API takes (${REQUEST_BODY_LIMIT_KB} KB)` };
    case 'encoding.unsupported':
      return { status: 415, code: 'REQUEST.UNSUPPORTED_ENCODING', message: `content encoding "${e.encoding}" is not supported: send the body as is, or gzip, deflate or br` };
    case 'charset.unsupported':
      return { status: 415, code: 'REQUEST.UNSUPPORTED_CHARSET', message: `charset "${e.charset}" is not supported: send UTF-8` };
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, code: 'REQUEST.INCOMPLETE', message: 'the body ended before its Content-Length' };
  }
  if (e.status === 400 && e.code?.startsWith('Z_')) {
    return { status: 400, code: 'REQUEST.BAD_ENCODING', message: `the body does not decompress as its Content-Encoding says (${e.code})` };
  }
  return null;
}

/**
 * An Express error handler placed right after the body parsers: a body that cannot be read becomes a 4xx with a code
 * (an HttpException, which the error filter answers as it is), instead of Nest's uncoded 400 for bad JSON or a 500
 * for everything else body-parser refuses (too large, a bad gzip stream, an unknown encoding). Other errors pass on.
 */
export function unreadableBodyAsHttpError(err: unknown, _req: Request, _res: Response, next: NextFunction): void {
  const known = err && typeof err === 'object' ? answer(err as BodyReadError) : null;
  if (!known) return next(err);
  next(new HttpException({ statusCode: known.status, code: known.code, message: known.message }, known.status, { cause: err }));
}
