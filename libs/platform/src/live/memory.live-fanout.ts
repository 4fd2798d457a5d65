import type { Logger } from 'pino';
import { LiveFanout, decodeLiveMessages, encodeLiveMessages, type LiveHandler, type LiveMessage } from './live-fanout';
import { LiveHandlers } from './live-handlers';

/** Embedded mode: every console is in this process. */
export class MemoryLiveFanout extends LiveFanout {
  private readonly handlers: LiveHandlers;

  constructor(log: Logger) {
    super();
    this.handlers = new LiveHandlers(log);
  }

  async publishAll(messages: readonly LiveMessage[]): Promise<void> {
    if (!messages.length) return;
    // through the wire form, as over Redis: a body that is not plain JSON shows up here, not first in production
    const copies = decodeLiveMessages(encodeLiveMessages(messages));
    if (!copies || copies.unreadable) throw new Error(`live message "${messages[0].body.type}" does not survive JSON`);
    copies.messages.forEach((m) => this.handlers.deliver(m));
  }

  subscribe(handler: LiveHandler): () => void {
    return this.handlers.add(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
