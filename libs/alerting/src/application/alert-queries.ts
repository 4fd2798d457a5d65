import { Injectable } from '@nestjs/common';
import { notFound } from '@linan/platform';
import { assertDistrict, type Actor } from '@linan/auth';
import type { Alert } from '../domain/alert';
import { AlertRepository, AlertSummary, TimelineEntry } from './ports/alert.repository';

/** Reads for the console: always scoped to the actor's district. */
@Injectable()
export class AlertQueries {
  constructor(private readonly alerts: AlertRepository) {}

  list(actor: Actor, filter: { status: 'open' | 'closed' | 'all'; householdId?: string; limit: number }): Promise<AlertSummary[]> {
    return this.alerts.list({ ...filter, district: actor.district });
  }

  async get(actor: Actor, id: string): Promise<{ alert: Alert; timeline: TimelineEntry[] }> {
    const alert = await this.alerts.findById(id);
    if (!alert) throw notFound('ALERT.NOT_FOUND', `alert ${id} does not exist`);
    assertDistrict(actor, alert.district);
    return { alert, timeline: await this.alerts.timeline(id) };
  }
}
