export interface OutboundSms {
  to: string;
  text: string;
  /** Our dispatch id, echoed in delivery receipts. */
  reference: string;
}

export interface SmsAccepted {
  providerRef: string;
}

export class DeliveryError extends Error {
  constructor(readonly kind: 'transient' | 'permanent' | 'rate-limited' | 'unsupported', detail?: string, options?: ErrorOptions) {
    super(`${kind}: ${detail ?? 'provider error'}`, options);
    this.name = 'DeliveryError';
  }
}

export abstract class SmsSender {
  abstract readonly provider: string;
  /** Throws DeliveryError. */
  abstract send(sms: OutboundSms): Promise<SmsAccepted>;
}

export interface OperatorNotice {
  alertId: string;
  householdId: string;
  /** For the operator's screen (never sent by SMS): who and where. */
  householdName: string;
  district: string;
  community: string;
  priority: string;
  type: string;
  round: number;
  reason: 'opened' | 'escalated';
  text: string;
}

/** Reaches the operators' consoles (WebSocket in this process; shared fan-out when there are several consoles). */
export abstract class ConsoleNotifier {
  /** Throws DeliveryError when no console can be told. */
  abstract notify(notice: OperatorNotice): Promise<void>;
}
