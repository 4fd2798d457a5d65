import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { RootLogger } from '@linan/platform';
import { SendPendingDispatchesUseCase } from '@linan/dispatch';

const SWEEP_EVERY_MS = 5_000;
const PENDING_GRACE_MS = 10_000;

/** Sends dispatches left pending (recorded, then the process stopped before sending). */
@Injectable()
export class PendingDispatchSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly sweep: SendPendingDispatchesUseCase, private readonly log: RootLogger) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.sweep.execute(PENDING_GRACE_MS).then(
        (n) => n && this.log.warn({ count: n }, 'sent dispatches that were left pending'),
        (err) => this.log.error({ err }, 'pending dispatch sweep failed'),
      );
    }, SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
