import type { Logger } from 'pino';
import type { LiveHandler, LiveMessage } from './live-fanout';

/** The handlers of one process; a handler that throws is logged and does not keep the message from the others. */
export class LiveHandlers {
  private readonly handlers = new Set<LiveHandler>();

  constructor(private readonly log: Logger) {}

  add(handler: LiveHandler): () => void {
    this.handlers.add(handler);
    return () => void this.handlers.delete(handler);
  }

  /** Whether any handler listens (processes that show nothing live need not even read a message). */
  get empty(): boolean {
    return this.handlers.size === 0;
  }

  deliver(message: LiveMessage): void {
    for (const h of this.handlers) {
      try {
        h(message);
      } catch (err) {
        this.log.warn({ err, type: message.body.type }, 'live message handler failed');
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}
