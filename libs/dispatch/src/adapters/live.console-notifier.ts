import { Injectable } from '@nestjs/common';
import { LiveFanout } from '@linan/platform';
import { ConsoleNotifier, DeliveryError, type OperatorNotice } from '../application/ports/notification.ports';

/**
 * Operator notices go out on the live fan-out, which reaches every console process (several replicas, or the one
 * embedded process); each console shows it to the operators whose district covers the alert. Dispatch cannot see
 * the sockets behind the fan-out, so "sent" means handed to every console process, not seen on a screen: the alert
 * is in the queue regardless, and a console that was closed reads it there when it opens.
 */
@Injectable()
export class LiveConsoleNotifier extends ConsoleNotifier {
  constructor(private readonly live: LiveFanout) {
    super();
  }

  async notify(notice: OperatorNotice): Promise<void> {
    try {
      // `type` names the live message; the alert's own type travels as alertType
      await this.live.publish({ district: notice.district, body: { ...notice, alertType: notice.type, type: 'operator.notice' } });
    } catch (err) {
      throw new DeliveryError('transient', `the consoles' live channel is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }
}
