import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig, RootLogger } from '@linan/platform';
import { EscalateDueAlertsUseCase } from '@linan/alerting';

/**
 * Drives the durable escalation timers. The timers themselves are rows (due time and timer id on the alert),
 * so they survive restarts; this loop only looks for due ones every TIMER_POLL_MS and escalates them.
 */
@Injectable()
export class EscalationTimerWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly config: AppConfig, private readonly escalate: EscalateDueAlertsUseCase, private readonly log: RootLogger) {}

  onApplicationBootstrap(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().then(() => this.schedule());
    }, this.config.escalation.pollMs);
  }

  /** One pass; exposed so tests can drive it without waiting. */
  async tick(): Promise<number> {
    try {
      let total = 0;
      for (let n = await this.escalate.execute(); n > 0 && !this.stopped; n = await this.escalate.execute()) total += n;
      return total;
    } catch (err) {
      this.log.error({ err }, 'escalation pass failed');
      return 0;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
