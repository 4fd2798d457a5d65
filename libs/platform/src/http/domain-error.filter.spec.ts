import type { ArgumentsHost } from '@nestjs/common';
import { notFound } from '@linan/contracts';
import type { RootLogger } from '../logging/root-logger';
import { DATABASE_RETRY_AFTER_S, DomainErrorFilter } from './domain-error.filter';

interface Sent {
  status?: number;
  headers: Record<string, string>;
  body?: Record<string, unknown>;
}

/** Runs the filter on one error and resolves with what it sent, and what it logged at which level. */
async function filtered(error: unknown, databaseAnswers?: () => Promise<boolean>, headersSent = false) {
  const logged: { level: string; msg: string }[] = [];
  const log = { error: (_o: object, msg: string) => logged.push({ level: 'error', msg }), warn: (_o: object, msg: string) => logged.push({ level: 'warn', msg }) };
  const sent: Sent = { headers: {} };
  const done = new Promise<void>((resolve) => {
    const res = {
      headersSent,
      end: () => ((sent.body = { ended: true }), resolve(), res),
      status: (s: number) => ((sent.status = s), res),
      setHeader: (k: string, v: string) => ((sent.headers[k] = v), res),
      json: (b: Record<string, unknown>) => {
        sent.body = b;
        resolve();
        return res;
      },
    };
    const host = { switchToHttp: () => ({ getResponse: () => res, getRequest: () => ({ method: 'GET', path: '/api/v1/alerts' }) }) } as unknown as ArgumentsHost;
    new DomainErrorFilter(log as unknown as RootLogger, databaseAnswers).catch(error, host);
  });
  await done;
  return { sent, logged };
}

describe('DomainErrorFilter', () => {
  it('maps a domain error by its kind, without asking the database', async () => {
    const ask = jest.fn(async () => false);
    const { sent } = await filtered(notFound('ALERT.NOT_FOUND', 'no such alert'), ask);
    expect(sent).toEqual({ status: 404, headers: {}, body: { statusCode: 404, code: 'ALERT.NOT_FOUND', message: 'no such alert' } });
    expect(ask).not.toHaveBeenCalled();
  });

  it('answers any other error with 500 and an errorId in the log while the database answers', async () => {
    const { sent, logged } = await filtered(new Error('boom'), async () => true);
    expect(sent).toEqual({ status: 500, headers: {}, body: { statusCode: 500, message: 'internal error', errorId: expect.any(String) } });
    expect(logged).toEqual([{ level: 'error', msg: 'unhandled error' }]);
  });

  it('answers 503 SERVICE.DATABASE_UNAVAILABLE with Retry-After when the database does not answer', async () => {
    const { sent, logged } = await filtered(new Error('Connection terminated unexpectedly'), async () => false);
    expect(sent).toEqual({
      status: 503, headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_S) },
      body: { statusCode: 503, code: 'SERVICE.DATABASE_UNAVAILABLE', message: 'the database does not answer; try again shortly', errorId: expect.any(String) },
    });
    expect(logged).toEqual([{ level: 'warn', msg: 'request failed: the database does not answer' }]);
  });

  it('only ends a response already under way, and logs the error', async () => {
    const { sent, logged } = await filtered(new Error('stream broke'), async () => true, true);
    expect(sent).toEqual({ headers: {}, body: { ended: true } });
    expect(logged).toEqual([{ level: 'error', msg: 'unhandled error' }]);
  });

  it('answers 500 in an app without a database', async () => {
    const { sent } = await filtered(new Error('boom'));
    expect(sent.status).toBe(500);
  });
});
