import { randomUUID } from 'node:crypto';
import { Cache, Clock, maskPhone, type RootLogger } from '@linan/platform';
import { DeliveryError, SmsSender, type OutboundSms, type SmsAccepted } from '../../application/ports/notification.ports';

export interface RecordedSms extends OutboundSms {
  providerRef: string;
  at: number;
}

/** The list of what every replica's fake provider sent, in the shared cache. */
export const SHARED_SENT_SMS_KEY = 'fake-sms:sent';

/** Where replicas of dispatch put what they sent, so that any of them lists all (distributed mode). */
export interface SharedSentList {
  cache: Cache;
  log: RootLogger;
}

/**
 * The SMS provider of embedded mode, test deployments and tests: records every message (listed at
 * /api/v1/embedded/sms) and fails on command. With a shared list (distributed mode: Redis) every replica's messages
 * are listed by any replica; they go there once per turn of the event loop, all of it in one command, and with the
 * phone number already masked.
 */
export class FakeSmsSender extends SmsSender {
  readonly provider = 'fake';
  private readonly sent: RecordedSms[] = [];
  private failures: DeliveryError[] = [];
  /** Messages of this turn of the event loop not yet on the shared list, as stored there. */
  private unshared: string[] = [];

  constructor(private readonly clock: Clock, private readonly keep = 1000, private readonly shared?: SharedSentList) {
    super();
  }

  async send(sms: OutboundSms): Promise<SmsAccepted> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    const providerRef = `fake-${randomUUID()}`;
    const recorded: RecordedSms = { ...sms, providerRef, at: this.clock.now() };
    this.sent.push(recorded);
    // trimmed in one go once twice as many as kept (shifting one at a time moved the whole list on every send)
    if (this.sent.length >= 2 * this.keep) this.sent.splice(0, this.sent.length - this.keep);
    if (this.shared) this.share(recorded, this.shared);
    return { providerRef };
  }

  private share(m: RecordedSms, shared: SharedSentList): void {
    this.unshared.push(JSON.stringify({ ...m, to: maskPhone(m.to) }));
    if (this.unshared.length > 1) return;
    setImmediate(() => {
      const values = this.unshared;
      this.unshared = [];
      shared.cache.pushRecent(SHARED_SENT_SMS_KEY, values, this.keep).catch((err: unknown) => {
        shared.log.warn({ err, count: values.length }, 'fake SMS provider: sent messages not added to the shared list (Redis); the messages themselves went out');
      });
    });
  }

  /** The newest `keep` messages, newest first: every replica's when the list is shared, else this process's. */
  async recent(): Promise<RecordedSms[]> {
    if (!this.shared) return [...this.messages()].reverse();
    return (await this.shared.cache.recent(SHARED_SENT_SMS_KEY, this.keep)).map((v) => JSON.parse(v) as RecordedSms);
  }

  /** The next `count` sends fail with this kind. */
  failNext(kind: DeliveryError['kind'], count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(new DeliveryError(kind, 'injected by test'));
  }

  /** The last `keep` messages this process sent, oldest first. */
  messages(): readonly RecordedSms[] {
    return this.sent.length > this.keep ? this.sent.slice(-this.keep) : this.sent;
  }
}
