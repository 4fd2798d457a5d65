import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Topics } from '@linan/contracts';
import { ConsumerHandle, MessageBus, openEnvelope } from '@linan/platform';
import { HandleDispatchRequestUseCase } from '@linan/dispatch';

export const DISPATCH_GROUP = 'dispatch';

/** Consumes dispatch requests (group "dispatch"). */
@Injectable()
export class DispatchRequestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private handle: ConsumerHandle | null = null;

  constructor(private readonly bus: MessageBus, private readonly useCase: HandleDispatchRequestUseCase) {}

  async onApplicationBootstrap(): Promise<void> {
    this.handle = await this.bus.subscribe({
      groupId: DISPATCH_GROUP,
      topics: [Topics.dispatchRequests],
      handle: async (m) => {
        await this.useCase.execute(openEnvelope(Topics.dispatchRequests, m));
      },
      handleBatch: async (batch) => {
        await this.useCase.executeBatch(batch.map((m) => openEnvelope(Topics.dispatchRequests, m)));
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle?.stop();
  }
}
