/** Restarts of one app the launcher allows within RESTART_WINDOW_MS before it gives up on the whole platform. */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 10 * 60_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

export type RestartDecision = { restart: true; delayMs: number; count: number } | { restart: false; count: number };

/**
 * When an app that was running exits, `start:distributed` starts it again, so one app's crash does not take the
 * console and the others down with it: after 1 s, then 2, 4, 8 … (at most 30 s) while it keeps exiting. An app
 * that exits more than MAX_RESTARTS times within RESTART_WINDOW_MS is not going to come up by itself (a bad
 * setting, a service refusing it): then the launcher stops everything and exits 1, for a supervisor or a person.
 */
export class RestartPolicy {
  private readonly exits = new Map<string, number[]>();

  next(app: string, now: number): RestartDecision {
    const recent = [...(this.exits.get(app) ?? []).filter((t) => now - t < RESTART_WINDOW_MS), now];
    this.exits.set(app, recent);
    const count = recent.length;
    if (count > MAX_RESTARTS) return { restart: false, count };
    return { restart: true, delayMs: Math.min(FIRST_DELAY_MS * 2 ** (count - 1), MAX_DELAY_MS), count };
  }
}
