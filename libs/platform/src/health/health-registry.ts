import { withTimeout } from '../time/with-timeout';

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

  /** Every probe's answer now, side by side; one that fails or does not answer within `timeoutMs` is down. */
  async check(timeoutMs = 2_000): Promise<{ name: string; up: boolean }[]> {
    return Promise.all(this.entries().map(async ([name, probe]) => {
      try {
        return { name, up: (await withTimeout(probe(), timeoutMs, `${name} did not answer`)).up };
      } catch {
        return { name, up: false };
      }
    }));
  }
}
