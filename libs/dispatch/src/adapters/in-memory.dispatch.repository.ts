import { DispatchRepository, type Dispatch } from '../application/ports/dispatch.repository';

/** The dispatch store for unit tests of the use cases. */
export class InMemoryDispatchRepository extends DispatchRepository {
  readonly rows = new Map<string, Dispatch>();

  private key(d: Dispatch): string {
    return `${d.alertId}/${d.round}/${d.recipientKind}/${d.recipientId}/${d.channel}`;
  }

  async insertMissing(rows: Dispatch[]): Promise<Dispatch[]> {
    const byKey = new Map([...this.rows.values()].map((d) => [this.key(d), d]));
    return rows.map((d) => {
      const existing = byKey.get(this.key(d));
      if (existing) return existing;
      this.rows.set(d.id, { ...d });
      return d;
    });
  }
  async saveResults(results: Dispatch[]): Promise<void> {
    for (const r of results) this.rows.set(r.id, { ...r });
  }
  /** Holds no alerts: takes every one asked about for one on record. */
  async onRecord(alertIds: string[]): Promise<Map<string, { aideId: string; round: number }[]>> {
    const out = new Map<string, { aideId: string; round: number }[]>(alertIds.map((id) => [id, []]));
    for (const d of this.rows.values()) {
      if (d.recipientKind !== 'aide' || !alertIds.includes(d.alertId)) continue;
      out.set(d.alertId, [...(out.get(d.alertId) ?? []), { aideId: d.recipientId, round: d.round }]);
    }
    return out;
  }
  async list(f: { alertId?: string; limit: number }): Promise<Dispatch[]> {
    return [...this.rows.values()].filter((d) => !f.alertId || d.alertId === f.alertId).slice(0, f.limit);
  }
  async claimPending(before: number, now: number, limit: number): Promise<Dispatch[]> {
    const claimed = [...this.rows.values()].filter((d) => d.status === 'pending' && d.updatedAt < before).slice(0, limit);
    for (const d of claimed) this.rows.set(d.id, { ...d, updatedAt: now });
    return claimed.map((d) => ({ ...d, updatedAt: now }));
  }
}
