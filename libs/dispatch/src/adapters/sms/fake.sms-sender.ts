import { randomUUID } from 'node:crypto';
import { Clock } from '@linan/platform';
import { DeliveryError, SmsSender, type OutboundSms, type SmsAccepted } from '../../application/ports/notification.ports';

export interface RecordedSms extends OutboundSms {
  providerRef: string;
  at: number;
}

/**
 * The SMS provider of embedded mode and tests: records every message (listed in the console) and fails on command.
 */
export class FakeSmsSender extends SmsSender {
  readonly provider = 'fake';
  private readonly sent: RecordedSms[] = [];
  private failures: DeliveryError[] = [];

  constructor(private readonly clock: Clock, private readonly keep = 1000) {
    super();
  }

  async send(sms: OutboundSms): Promise<SmsAccepted> {
    const failure = this.failures.shift();
    if (failure) throw failure;
    const providerRef = `fake-${randomUUID()}`;
    this.sent.push({ ...sms, providerRef, at: this.clock.now() });
    // trimmed in one go once twice as many as kept (shifting one at a time moved the whole list on every send)
    if (this.sent.length >= 2 * this.keep) this.sent.splice(0, this.sent.length - this.keep);
    return { providerRef };
  }

  /** The next `count` sends fail with this kind. */
  failNext(kind: DeliveryError['kind'], count = 1): void {
    for (let i = 0; i < count; i++) this.failures.push(new DeliveryError(kind, 'injected by test'));
  }

  /** The last `keep` messages, oldest first. */
  messages(): readonly RecordedSms[] {
    return this.sent.length > this.keep ? this.sent.slice(-this.keep) : this.sent;
  }
}
