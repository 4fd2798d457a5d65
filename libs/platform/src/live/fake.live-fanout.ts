import pino, { type Logger } from 'pino';
import type { LiveMessage } from './live-fanout';
import { MemoryLiveFanout } from './memory.live-fanout';

/** The in-process fan-out for tests: records what was published and fails on command, as Redis does when down. */
export class FakeLiveFanout extends MemoryLiveFanout {
  readonly published: LiveMessage[] = [];
  private failure: Error | null = null;

  constructor(log: Logger = pino({ level: 'silent' })) {
    super(log);
  }

  fail(error = new Error('Stream isn\'t writeable (fake Redis down)')): void {
    this.failure = error;
  }

  recover(): void {
    this.failure = null;
  }

  override async publish(message: LiveMessage): Promise<void> {
    if (this.failure) throw this.failure;
    this.published.push(message);
    return super.publish(message);
  }
}
