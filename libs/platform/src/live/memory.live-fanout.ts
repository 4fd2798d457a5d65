import type { Logger } from 'pino';
import { LiveFanout, decodeLiveMessage, encodeLiveMessage, type LiveHandler, type LiveMessage } from './live-fanout';
import { LiveHandlers } from './live-handlers';

/** Embedded mode: every console is in this process. */
export class MemoryLiveFanout extends LiveFanout {
  private readonly handlers: LiveHandlers;

  constructor(log: Logger) {
    super();
    this.handlers = new LiveHandlers(log);
  }

  async publish(message: LiveMessage): Promise<void> {
    // through the wire form, as over Redis: a body that is not plain JSON shows up here, not first in production
    const copy = decodeLiveMessage(encodeLiveMessage(message));
    if (!copy) throw new Error(`live message "${message.body.type}" does not survive JSON`);
    this.handlers.deliver(copy);
  }

  subscribe(handler: LiveHandler): () => void {
    return this.handlers.add(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
