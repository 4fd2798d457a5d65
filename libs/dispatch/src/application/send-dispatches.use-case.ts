import { Injectable } from '@nestjs/common';
import { Clock, Metrics, RootLogger, UnitOfWork } from '@linan/platform';
import { RecordDispatchesUseCase } from '@linan/alerting';
import { DispatchRepository, type Dispatch } from './ports/dispatch.repository';
import { ConsoleNotifier, DeliveryError, SmsSender } from './ports/notification.ports';

export const MAX_SEND_ATTEMPTS = 3;

/**
 * Sends recorded dispatches through their channel, retrying transient failures and never permanent ones, then
 * stores every dispatch's outcome and its timeline entries in one transaction. Outcomes that wait for the database
 * meanwhile (recording is background work, see `report`) are stored together, in the next transaction.
 */
@Injectable()
export class SendDispatchesUseCase {
  private readonly inFlight = new Set<string>();
  /** Outcomes waiting to be stored, each with the resolve of its `report` call. */
  private readonly unreported: { list: Dispatch[]; stored: () => void }[] = [];
  private reporting: Promise<void> | null = null;

  constructor(
    private readonly uow: UnitOfWork,
    private readonly dispatches: DispatchRepository,
    private readonly sms: SmsSender,
    private readonly consoles: ConsoleNotifier,
    private readonly record: RecordDispatchesUseCase,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly log: RootLogger,
  ) {}

  async execute(pending: Dispatch[]): Promise<Dispatch[]> {
    const mine = pending.filter((d) => d.status === 'pending' && !this.inFlight.has(d.id));
    mine.forEach((d) => this.inFlight.add(d.id));
    try {
      const done = await Promise.all(mine.map((d) => this.sendOne(d)));
      await this.report(done);
      done.forEach((d) => this.metrics.dispatches.inc({ channel: d.channel, status: d.status }));
      return done;
    } finally {
      mine.forEach((d) => this.inFlight.delete(d.id));
    }
  }

  /**
   * Stores outcomes with their timeline entries. Recording is background work (the messages are out, so it must not
   * hold up the next alarms), and while it waits for the database more outcomes arrive: each transaction takes every
   * outcome waiting when it starts, so a burst costs a few transactions, not one per batch sent.
   */
  private report(list: Dispatch[]): Promise<void> {
    if (!list.length) return Promise.resolve();
    const firstByAlert = new Map<string, Dispatch>();
    for (const d of list) {
      if (d.status !== 'sent' || d.round !== 0 || d.recipientKind === 'operators') continue;
      const seen = firstByAlert.get(d.alertId);
      if (!seen || d.updatedAt < seen.updatedAt) firstByAlert.set(d.alertId, d);
    }
    firstByAlert.forEach((d) => this.metrics.deviceToFirstDispatch.observe(Math.max(0, d.updatedAt - d.context.deviceTs) / 1000));
    return new Promise((stored) => {
      this.unreported.push({ list, stored });
      this.reporting ??= this.storeUnreported().finally(() => (this.reporting = null));
    });
  }

  private async storeUnreported(): Promise<void> {
    while (this.unreported.length) {
      let taken: typeof this.unreported = [];
      try {
        await this.uow.run(async () => {
          // taken once the transaction has the database, so everything that queued while it waited comes along
          taken = this.unreported.splice(0);
          const list = taken.flatMap((t) => t.list);
          // the alerts are locked first; the writes of both then go to the database together (held writes)
          await this.record.execute(list.map((d) => ({
            alertId: d.alertId, dispatchId: d.id, recipientKind: d.recipientKind, recipientName: d.recipientName, channel: d.channel,
            status: d.status, attempts: d.attempts, round: d.round, error: d.lastError ?? undefined,
          })));
          await this.dispatches.saveResults(list);
        }, { background: true });
      } catch (err) {
        // the transaction could not even start: these outcomes fail with it (no spinning on a database that is down)
        if (!taken.length) taken = this.unreported.splice(0);
        // left pending in the database: the sweeper sends them again (at-least-once, never silently dropped)
        const alertIds = [...new Set(taken.flatMap((t) => t.list.map((d) => d.alertId)))];
        this.log.error({ err, alertIds }, 'dispatch results could not be stored');
      }
      taken.forEach((t) => t.stored());
    }
  }

  private async sendOne(d: Dispatch): Promise<Dispatch> {
    let attempts = d.attempts;
    let lastError: string | null = null;
    let providerRef: string | null = null;
    let status: Dispatch['status'] = 'failed';
    while (attempts < MAX_SEND_ATTEMPTS) {
      attempts++;
      try {
        if (d.channel === 'sms') {
          if (!d.destination) throw new DeliveryError('permanent', 'recipient has no phone number');
          providerRef = (await this.sms.send({ to: d.destination, text: d.body, reference: d.id })).providerRef;
        } else {
          const { deviceTs: _deviceTs, ...brief } = d.context;
          await this.consoles.notify({ ...brief, alertId: d.alertId, round: d.round, text: d.body });
        }
        status = 'sent';
        lastError = null;
        break;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
        const kind = err instanceof DeliveryError ? err.kind : 'transient';
        this.log.warn({ alertId: d.alertId, dispatchId: d.id, channel: d.channel, attempts, kind }, 'dispatch attempt failed');
        if (kind === 'permanent' || kind === 'unsupported') break;
      }
    }
    return { ...d, status, attempts, lastError, providerRef, updatedAt: this.clock.now() };
  }
}

/** The sweeper: dispatches still pending a while after they were recorded (the process stopped before sending). */
@Injectable()
export class SendPendingDispatchesUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly dispatches: DispatchRepository,
    private readonly sender: SendDispatchesUseCase,
    private readonly clock: Clock,
  ) {}

  async execute(olderThanMs: number, limit = 100): Promise<number> {
    const now = this.clock.now();
    // background work, like the sending it recovers: a sweep every few seconds must not keep the embedded database
    // from ever being quiet (see EscalateDueAlertsUseCase)
    const pending = await this.uow.run(() => this.dispatches.claimPending(now - olderThanMs, now, limit), { background: true });
    await this.sender.execute(pending);
    return pending.length;
  }
}
