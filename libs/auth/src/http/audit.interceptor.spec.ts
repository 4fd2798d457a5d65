import { ConflictException, type CallHandler, type ExecutionContext } from '@nestjs/common';
import { lastValueFrom, of, throwError } from 'rxjs';
import { DomainError } from '@linan/platform';
import { AuditInterceptor } from './audit.interceptor';
import type { AuditTrail } from './audit-trail';

/** An audit trail whose writes finish only when the test says so. */
function slowTrail() {
  const calls: { outcome: number; result: unknown }[] = [];
  let finish: () => void = () => undefined;
  const written = new Promise<void>((resolve) => (finish = resolve));
  const trail = { record: async (_req: unknown, outcome: number, result?: unknown) => { calls.push({ outcome, result }); await written; } };
  return { trail: trail as unknown as AuditTrail, calls, finish };
}

function httpContext(method: string, statusCode = 201): ExecutionContext {
  const req = { method };
  return { getType: () => 'http', switchToHttp: () => ({ getRequest: () => req, getResponse: () => ({ statusCode }) }) } as unknown as ExecutionContext;
}

/** Settles the interceptor's answer, reporting whether it settled before the audit write was let finish. */
async function settle(answer: Promise<unknown>, finish: () => void) {
  let released = false;
  let early = false;
  const outcome = answer.then((value) => ({ value }), (error: unknown) => ({ error }));
  void outcome.then(() => (early = !released));
  await new Promise((r) => setTimeout(r, 20));
  released = true;
  finish();
  return { early, ...(await outcome) };
}

describe(AuditInterceptor.name, () => {
  it('answers an action only once its audit row is stored, with the status it ended in', async () => {
    const { trail, calls, finish } = slowTrail();
    const handler: CallHandler = { handle: () => of({ id: 'd-1' }) };
    const r = await settle(lastValueFrom(new AuditInterceptor(trail).intercept(httpContext('POST'), handler)), finish);
    expect(r).toEqual({ early: false, value: { id: 'd-1' } });
    expect(calls).toEqual([{ outcome: 201, result: { id: 'd-1' } }]);
  });

  it('passes a failed action\'s error on only once its audit row is stored, with the status of that error', async () => {
    for (const [error, outcome] of [
      [new ConflictException('taken'), 409],
      [new DomainError('HOUSEHOLD.NOT_FOUND', 'not_found', 'no such household'), 404],
      [new Error('boom'), 500],
    ] as const) {
      const { trail, calls, finish } = slowTrail();
      const handler: CallHandler = { handle: () => throwError(() => error) };
      const r = await settle(lastValueFrom(new AuditInterceptor(trail).intercept(httpContext('POST'), handler)), finish);
      expect(r).toEqual({ early: false, error });
      expect(calls).toEqual([{ outcome, result: undefined }]);
    }
  });

  it('does not audit reads', async () => {
    const { trail, calls } = slowTrail();
    const handler: CallHandler = { handle: () => of([]) };
    expect(await lastValueFrom(new AuditInterceptor(trail).intercept(httpContext('GET', 200), handler))).toEqual([]);
    expect(calls).toEqual([]);
  });
});
