export interface ProbeResult {
  up: boolean;
  detail?: Record<string, unknown>;
}

/** Readiness probes registered by each part (database, broker, bus consumers); /health reports them all. */
export class HealthRegistry {
  private readonly probes = new Map<string, () => Promise<ProbeResult>>();

  register(name: string, probe: () => Promise<ProbeResult>): void {
    this.probes.set(name, probe);
  }

  entries(): [string, () => Promise<ProbeResult>][] {
    return [...this.probes.entries()];
  }
}
