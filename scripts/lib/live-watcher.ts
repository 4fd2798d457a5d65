import WebSocket from 'ws';
import { nowMs } from './device';

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
