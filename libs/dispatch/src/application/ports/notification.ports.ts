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

/** What an alert is about and where, as dispatch carries it (names are for operators' screens, never for SMS). */
export interface AlertBrief {
  householdId: string;
  householdName: string;
  district: string;
  community: string;
  priority: string;
  type: string;
  reason: 'opened' | 'escalated';
}

export interface OperatorNotice extends AlertBrief {
  alertId: string;
  round: number;
  text: string;
}

/** Reaches the operators' consoles, wherever they run (the live fan-out). */
export abstract class ConsoleNotifier {
  /** Throws DeliveryError when no console can be told. */
  abstract notify(notice: OperatorNotice): Promise<void>;
}
