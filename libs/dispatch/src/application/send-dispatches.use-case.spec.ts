import pino from 'pino';
import { FakeClock, FakeLiveFanout, InlineUnitOfWork, Metrics, UnitOfWork, type LiveMessage, type RootLogger } from '@linan/platform';
import type { DispatchNote, RecordDispatchesUseCase } from '@linan/alerting';
import { FakeSmsSender } from '../adapters/sms/fake.sms-sender';
import { InMemoryDispatchRepository } from '../adapters/in-memory.dispatch.repository';
import { LiveConsoleNotifier } from '../adapters/live.console-notifier';
import type { Dispatch } from './ports/dispatch.repository';
import { MAX_SEND_ATTEMPTS, SendDispatchesUseCase, SendPendingDispatchesUseCase } from './send-dispatches.use-case';

const dispatch = (over: Partial<Dispatch> = {}): Dispatch => ({
  id: `d-${Math.random()}`, alertId: 'a1', round: 0, recipientKind: 'aide', recipientId: 'aide-1', recipientName: '助老员',
  channel: 'sms', status: 'pending', attempts: 0, lastError: null, providerRef: null, destination: '13700001000', body: '【邻安】紧急呼叫',
  context: { householdId: 'h1', householdName: '张三丰', district: '思明区', community: '莲花社区', priority: 'P1', type: 'sos', reason: 'opened', deviceTs: 0 }, createdAt: 0, updatedAt: 0, ...over,
});

function setup(uow: UnitOfWork = new InlineUnitOfWork()) {
  const clock = new FakeClock();
  const repo = new InMemoryDispatchRepository();
  const sms = new FakeSmsSender(clock);
  const live = new FakeLiveFanout();
  const consoles = new LiveConsoleNotifier(live);
  const notes: DispatchNote[][] = [];
  const record = { execute: async (n: DispatchNote[]) => void notes.push(n) } as unknown as RecordDispatchesUseCase;
  const metrics = new Metrics({ defaultMetrics: false });
  const useCase = new SendDispatchesUseCase(uow, repo, sms, consoles, record, clock, metrics, pino({ level: 'silent' }) as RootLogger);
  return { clock, repo, sms, live, notes, useCase, metrics };
}

/** A unit of work whose transactions wait for `open()` before they start, counting them. */
class GatedUnitOfWork extends InlineUnitOfWork {
  transactions = 0;
  failing = false;
  open: () => void = () => undefined;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  override async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.gate;
    if (this.failing) throw new Error('database down');
    this.transactions++;
    return super.run(fn);
  }
}

describe(SendDispatchesUseCase.name, () => {
  it('stores outcomes that waited for the database together, in one transaction', async () => {
    const uow = new GatedUnitOfWork();
    const { repo, notes, useCase } = setup(uow);
    const batches = [[dispatch()], [dispatch(), dispatch({ alertId: 'a2' })], [dispatch({ alertId: 'a3' })]];
    for (const b of batches) await repo.insertMissing(b);
    const sent = batches.map((b) => useCase.execute(b));
    await new Promise((r) => setTimeout(r, 10));
    uow.open();
    await Promise.all(sent);
    expect(uow.transactions).toBe(1);
    expect(notes).toHaveLength(1);
    expect(notes[0].map((n) => n.dispatchId).sort()).toEqual(batches.flat().map((d) => d.id).sort());
    expect([...repo.rows.values()].every((d) => d.status === 'sent')).toBe(true);
  });

  it('leaves outcomes pending when their transaction cannot start, and does not spin', async () => {
    const uow = new GatedUnitOfWork();
    uow.failing = true;
    const { repo, useCase } = setup(uow);
    const d = dispatch();
    await repo.insertMissing([d]);
    const sent = useCase.execute([d]);
    uow.open();
    const [done] = await sent;
    expect(done.status).toBe('sent'); // it went out; only the record is missing
    expect(repo.rows.get(d.id)!.status).toBe('pending'); // so the sweeper will send it again
  });

  it('sends an SMS, stores the provider reference and reports it on the timeline', async () => {
    const { repo, sms, notes, useCase } = setup();
    const d = dispatch();
    await repo.insertMissing([d]);
    const [done] = await useCase.execute([d]);
    expect(done).toMatchObject({ status: 'sent', attempts: 1, providerRef: expect.stringMatching(/^fake-/) });
    expect(repo.rows.get(d.id)!.status).toBe('sent');
    expect(sms.messages().map((m) => [m.to, m.reference])).toEqual([['13700001000', d.id]]);
    expect(notes[0]).toEqual([expect.objectContaining({ dispatchId: d.id, status: 'sent', attempts: 1 })]);
  });

  it('retries a transient provider failure and records every attempt', async () => {
    const { sms, useCase } = setup();
    sms.failNext('transient', 2);
    const [done] = await useCase.execute([dispatch()]);
    expect(done).toMatchObject({ status: 'sent', attempts: 3, lastError: null });
  });

  it('gives up after the last attempt and keeps the error', async () => {
    const { sms, useCase, metrics } = setup();
    sms.failNext('rate-limited', MAX_SEND_ATTEMPTS);
    const [done] = await useCase.execute([dispatch()]);
    expect(done).toMatchObject({ status: 'failed', attempts: MAX_SEND_ATTEMPTS, lastError: expect.stringContaining('rate-limited') });
    expect((await metrics.registry.getSingleMetricAsString('linan_dispatches_total'))).toContain('channel="sms",status="failed"} 1');
  });

  it('never retries a permanent failure', async () => {
    const { sms, useCase } = setup();
    sms.failNext('permanent', 1);
    const [done] = await useCase.execute([dispatch()]);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringContaining('permanent') });
    expect(sms.messages()).toHaveLength(0);
  });

  it('fails an SMS dispatch without a phone number at once', async () => {
    const { useCase } = setup();
    const [done] = await useCase.execute([dispatch({ destination: null })]);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringContaining('no phone') });
  });

  it('sends the operators\' notice to every console process over the live fan-out, for the alert\'s district', async () => {
    const { live, useCase } = setup();
    const seen: LiveMessage[] = [];
    live.subscribe((m) => seen.push(m));
    const [done] = await useCase.execute([dispatch({ channel: 'console', recipientKind: 'operators', destination: null })]);
    expect(done).toMatchObject({ status: 'sent', attempts: 1 });
    expect(seen).toEqual([{
      district: '思明区',
      body: expect.objectContaining({ type: 'operator.notice', alertId: 'a1', alertType: 'sos', priority: 'P1', householdName: '张三丰', text: '【邻安】紧急呼叫' }),
    }]);
  });

  it('retries the operators\' notice while the live channel is down, and records the failure', async () => {
    const { live, useCase } = setup();
    live.fail();
    const [done] = await useCase.execute([dispatch({ channel: 'console', recipientKind: 'operators', destination: null })]);
    expect(done).toMatchObject({ status: 'failed', attempts: MAX_SEND_ATTEMPTS, lastError: expect.stringContaining('live channel is unavailable') });
    live.recover();
    const [again] = await useCase.execute([dispatch({ channel: 'console', recipientKind: 'operators', destination: null })]);
    expect(again.status).toBe('sent');
  });

  it('the sweeper sends dispatches left pending, once', async () => {
    const { clock, repo, sms, useCase } = setup();
    const stale = dispatch({ createdAt: clock.now() - 60_000, updatedAt: clock.now() - 60_000 });
    const fresh = dispatch({ id: 'fresh', recipientId: 'aide-2', createdAt: clock.now(), updatedAt: clock.now() });
    await repo.insertMissing([stale, fresh]);
    const sweeper = new SendPendingDispatchesUseCase(new InlineUnitOfWork(), repo, useCase, clock);
    expect(await sweeper.execute(10_000)).toBe(1);
    expect(await sweeper.execute(10_000)).toBe(0);
    expect(sms.messages()).toHaveLength(1);
    expect(repo.rows.get('fresh')!.status).toBe('pending');
  });

  it('the sweeper claims what was left pending as background work (on the embedded database, alarms go first and it can be quiet)', async () => {
    const { clock, repo, useCase } = setup();
    const runs: (boolean | undefined)[] = [];
    const uow = new (class extends InlineUnitOfWork {
      override run<T>(fn: () => Promise<T>, options?: { background?: boolean }): Promise<T> {
        runs.push(options?.background);
        return super.run(fn);
      }
    })();
    await new SendPendingDispatchesUseCase(uow, repo, useCase, clock).execute(10_000);
    expect(runs).toEqual([true]);
  });
});
