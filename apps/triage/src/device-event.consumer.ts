import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Topics } from '@linan/contracts';
import { ConsumerHandle, MessageBus, RootLogger, openEnvelope } from '@linan/platform';
import { HandleDeviceEventUseCase } from '@linan/alerting';

export const TRIAGE_GROUP = 'triage';

/** Consumes accepted device events (group "triage"): parse, then hand to the use case, a partition's batch at a time. */
@Injectable()
export class DeviceEventConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private handle: ConsumerHandle | null = null;

  constructor(private readonly bus: MessageBus, private readonly useCase: HandleDeviceEventUseCase, private readonly log: RootLogger) {}

  async onApplicationBootstrap(): Promise<void> {
    this.handle = await this.bus.subscribe({
      groupId: TRIAGE_GROUP,
      topics: [Topics.deviceEvents],
      handle: async (m) => {
        const e = openEnvelope(Topics.deviceEvents, m);
        const outcome = await this.useCase.execute(e, m.replayed === true);
        this.log.debug({ eventId: e.eventId, householdId: e.payload.householdId, correlationId: e.correlationId, outcome }, 'device event triaged');
      },
      handleBatch: async (batch) => {
        const envelopes = batch.map((m) => openEnvelope(Topics.deviceEvents, m));
        await this.useCase.executeBatch(envelopes, new Set(envelopes.filter((_, i) => batch[i].replayed)));
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.handle?.stop();
  }
}
