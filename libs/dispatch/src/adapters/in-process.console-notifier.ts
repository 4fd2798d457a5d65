import { ConsoleNotifier, DeliveryError, type OperatorNotice } from '../application/ports/notification.ports';

/** Operator notices for the WebSocket consoles served by this process. */
export class InProcessConsoleNotifier extends ConsoleNotifier {
  private readonly listeners = new Set<(n: OperatorNotice) => number>();

  /** Delivered when at least one operator's console received it. */
  async notify(notice: OperatorNotice): Promise<void> {
    let reached = 0;
    for (const l of this.listeners) reached += l(notice);
    if (reached === 0) throw new DeliveryError('transient', 'no operator console is connected');
  }

  /** A listener returns how many consoles it reached. */
  subscribe(listener: (n: OperatorNotice) => number): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
