import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { DispatchRequested, Envelope } from '@linan/contracts';
import { Clock, PermanentMessageError, UnitOfWork } from '@linan/platform';
import { AideRepository, HouseholdRepository, type Household } from '@linan/people';
import { aideSms, EVENT_LABEL_ZH, familySms } from '../domain/message-text';
import { chooseRecipients, nearestFirst, type Recipient } from '../domain/recipients';
import { DispatchRepository, type Dispatch } from './ports/dispatch.repository';
import { SendDispatchesUseCase } from './send-dispatches.use-case';

function bodyFor(recipient: Recipient, r: DispatchRequested, household: Household): string {
  const alertRef = r.alertId.slice(0, 8);
  switch (recipient.kind) {
    case 'family':
      return familySms({ type: r.alertType, elderName: household.name, alertRef });
    case 'aide':
      return aideSms({ type: r.alertType, elderName: household.name, community: household.community, address: household.address, alertRef, round: r.round });
    case 'operators':
      return `${r.priority} ${EVENT_LABEL_ZH[r.alertType]} · ${household.community}${r.round > 0 ? ` · 第${r.round}次升级，无人确认` : ''}`;
  }
}

/**
 * Reaches the people for dispatch requests: chooses recipients and records one dispatch per recipient and
 * channel (idempotent per alert, round and recipient), then sends once the record has committed. A crash between
 * the two leaves pending dispatches that the sweeper sends later; a redelivered request sends nothing twice.
 * Works on a batch of requests with a fixed number of statements.
 */
@Injectable()
export class HandleDispatchRequestUseCase {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly dispatches: DispatchRepository,
    private readonly households: HouseholdRepository,
    private readonly aides: AideRepository,
    private readonly sender: SendDispatchesUseCase,
    private readonly clock: Clock,
  ) {}

  execute(msg: Envelope<DispatchRequested>): Promise<Dispatch[]> {
    return this.executeBatch([msg]);
  }

  async executeBatch(msgs: Envelope<DispatchRequested>[]): Promise<Dispatch[]> {
    const requests = msgs.map((m) => m.payload);
    const homes = new Map((await this.households.findByIds([...new Set(requests.map((r) => r.householdId))])).map((h) => [h.id, h]));
    const missing = requests.find((r) => !homes.has(r.householdId));
    if (missing) throw new PermanentMessageError('unknown_household', `household ${missing.householdId} does not exist`);
    const onDuty = await this.aides.onDutyInDistricts([...new Set([...homes.values()].map((h) => h.district))]);
    const called = await this.dispatches.onRecord([...new Set(requests.map((r) => r.alertId))]);
    // Triage stores an alert with its first request, so a request for an alert not on record means the database lost
    // it (restored, or failed over to a replica behind): the alarm is raised again by triage applying its event again.
    const orphan = requests.find((r) => !called.has(r.alertId));
    if (orphan) {
      throw new PermanentMessageError('unknown_alert', `alert ${orphan.alertId} is not on record (the database is older than the request); not dispatched`);
    }
    const now = this.clock.now();
    const rows: Dispatch[] = [];
    for (const r of requests) {
      const household = homes.get(r.householdId)!;
      // aides of earlier rounds only: a redelivered round chooses the same aides again, and records nothing new
      const history = called.get(r.alertId) ?? [];
      const alreadyCalled = new Set(history.filter((c) => c.round < r.round).map((c) => c.aideId));
      const recipients = chooseRecipients({
        round: r.round, callAides: r.callAides, priority: r.priority, community: household.community,
        aides: nearestFirst(onDuty, household), contacts: household.contacts, alreadyCalled,
      });
      called.set(r.alertId, [...history, ...recipients.filter((x) => x.kind === 'aide').map((x) => ({ aideId: x.id, round: r.round }))]);
      const context = {
        householdId: r.householdId, householdName: household.name, district: household.district, community: household.community,
        priority: r.priority, type: r.alertType, reason: r.reason, deviceTs: r.deviceTs,
      };
      for (const recipient of recipients) {
        rows.push({
          id: randomUUID(), alertId: r.alertId, round: r.round, recipientKind: recipient.kind, recipientId: recipient.id,
          recipientName: recipient.name, channel: recipient.channel, status: 'pending', attempts: 0, lastError: null,
          providerRef: null, destination: recipient.phone, body: bodyFor(recipient, r, household), context, createdAt: now, updatedAt: now,
        });
      }
    }
    const stored = await this.uow.run(() => this.dispatches.insertMissing(rows));
    const pending = stored.filter((d) => d.status === 'pending');
    this.uow.afterCommit(() => void this.sender.execute(pending));
    return stored;
  }
}
