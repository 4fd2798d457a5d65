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
  abstract publish(message: LiveMessage): Promise<void>;
  /** Calls `handler` for every message published from now on, in this process; returns the unsubscribe. */
  abstract subscribe(handler: LiveHandler): () => void;
  abstract close(): Promise<void>;
}

/** The wire form shared by the adapters: the same JSON in memory as over Redis, so embedded mode hides no surprise. */
export function encodeLiveMessage(message: LiveMessage): string {
  return JSON.stringify({ district: message.district, body: message.body });
}

export function decodeLiveMessage(text: string): LiveMessage | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const { district, body } = v as { district?: unknown; body?: unknown };
  if (typeof district !== 'string' || !body || typeof body !== 'object' || typeof (body as { type?: unknown }).type !== 'string') return null;
  return { district, body: body as LiveBody };
}
