/**
 * What the consoles are shown live. `body` is sent to the browser as it is, so it must survive JSON.stringify;
 * `district` says which consoles may see it (those whose district covers it).
 */
export interface LiveMessage {
  readonly district: string;
  readonly body: LiveBody;
}

export interface LiveBody {
  /** The kind of message the browser dispatches on ('alert.changed', 'operator.notice'). */
  readonly type: string;
  readonly [field: string]: unknown;
}

export type LiveHandler = (message: LiveMessage) => void;

/**
 * Delivers live messages to every console process: one in embedded mode, every console replica in distributed mode.
 * At most once and only to processes listening at the time; a console that missed something re-reads over the API.
 */
export abstract class LiveFanout {
  /** Resolves when the message has been handed to every listening process; throws when the channel is down. */
  publish(message: LiveMessage): Promise<void> {
    return this.publishAll([message]);
  }

  /**
   * Several messages, in order, as one handover: a console replica relaying a burst of alert changes sends one
   * message over the channel instead of one per change.
   */
  abstract publishAll(messages: readonly LiveMessage[]): Promise<void>;
  /** Calls `handler` for every message published from now on, in this process; returns the unsubscribe. */
  abstract subscribe(handler: LiveHandler): () => void;

  /** Resolves once this process receives what is published (its handlers' subscription is in place). */
  whenListening(): Promise<void> {
    return Promise.resolve();
  }
  abstract close(): Promise<void>;
}

const wire = (m: LiveMessage) => ({ district: m.district, body: m.body });

/**
 * The wire form shared by the adapters: the same JSON in memory as over Redis, so embedded mode hides no surprise.
 * One message is an object `{district, body}`; several are an array of them.
 */
export function encodeLiveMessages(messages: readonly LiveMessage[]): string {
  return JSON.stringify(messages.length === 1 ? wire(messages[0]) : messages.map(wire));
}

/**
 * The messages of one wire text, and how many of its entries were unreadable (those are left out). Null when the
 * text is not JSON at all.
 */
export function decodeLiveMessages(text: string): { messages: LiveMessage[]; unreadable: number } | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const entries = Array.isArray(v) ? v : [v];
  const messages = entries.map(readable).filter((m): m is LiveMessage => m !== null);
  return { messages, unreadable: entries.length - messages.length };
}

function readable(v: unknown): LiveMessage | null {
  if (!v || typeof v !== 'object') return null;
  const { district, body } = v as { district?: unknown; body?: unknown };
  if (typeof district !== 'string' || !body || typeof body !== 'object' || typeof (body as { type?: unknown }).type !== 'string') return null;
  return { district, body: body as LiveBody };
}
