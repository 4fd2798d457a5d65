import WebSocket from 'ws';
import { nowMs } from './device';
import { sleep } from './platform-process';

/**
 * An operator's console on the live channel (`/ws`), as the browser page holds it: signs in with the first message
 * and notes when each alert was first shown. The bench reads it per alarm ("device ts → shown on the console").
 */
export class LiveWatcher {
  private readonly shown = new Map<string, number>();
  private closedWith: string | null = null;

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => this.onMessage(String(data)));
    socket.on('close', (code, reason) => (this.closedWith = `${code} ${String(reason)}`));
  }

  /** Connects to `<httpUrl>/ws` with an operator's or admin's token; resolves once the channel greets it. */
  static open(httpUrl: string, token: string, timeoutMs = 10_000): Promise<LiveWatcher> {
    const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws`);
    return new Promise<LiveWatcher>((resolve, reject) => {
      const timer = setTimeout(() => (socket.terminate(), reject(new Error(`live channel at ${httpUrl}/ws did not greet within ${timeoutMs} ms`))), timeoutMs);
      socket.once('error', (err) => (clearTimeout(timer), reject(err)));
      socket.once('close', (code, reason) => (clearTimeout(timer), reject(new Error(`live channel closed: ${code} ${String(reason)}`))));
      socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token })));
      socket.once('message', (data) => {
        clearTimeout(timer);
        if (typeOf(String(data)) !== 'hello') {
          socket.terminate();
          return reject(new Error(`live channel answered ${String(data).slice(0, 100)}`));
        }
        socket.removeAllListeners('error').removeAllListeners('close');
        socket.on('error', () => undefined); // a drop shows as 'close' below, and as missing times in the report
        resolve(new LiveWatcher(socket));
      });
    });
  }

  /** When the alert was first shown (ms since the epoch), if it was. */
  shownAt(alertId: string | null | undefined): number | undefined {
    return alertId ? this.shown.get(alertId) : undefined;
  }

  /**
   * Resolves once every one of these alerts has been shown, `maxMs` have passed, or a second went by with none
   * newly shown (a chain that publishes no alert changes, as the naive one, costs a second, not `maxMs`).
   */
  async waitForShown(alertIds: readonly string[], maxMs: number): Promise<void> {
    const notShown = () => alertIds.filter((id) => !this.shown.has(id)).length;
    const until = Date.now() + maxMs;
    for (let left = notShown(), movedAt = Date.now(); left > 0 && Date.now() < until && Date.now() - movedAt < 1_000;) {
      await sleep(50);
      const now = notShown();
      if (now < left) [left, movedAt] = [now, Date.now()];
    }
  }

  /** Why the channel closed, if it did (the report says so instead of leaving the column empty unexplained). */
  get closed(): string | null {
    return this.closedWith;
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(text: string): void {
    const at = nowMs();
    const m = parsed(text);
    if (m?.type === 'alert.changed' && typeof m.alertId === 'string' && !this.shown.has(m.alertId)) this.shown.set(m.alertId, at);
  }
}

/** A live-channel message, or null when it is not JSON. */
function parsed(text: string): { type?: unknown; alertId?: unknown } | null {
  try {
    return JSON.parse(text) as { type?: unknown; alertId?: unknown };
  } catch {
    return null;
  }
}

const typeOf = (text: string): unknown => parsed(text)?.type;
