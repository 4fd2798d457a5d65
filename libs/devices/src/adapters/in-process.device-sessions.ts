import { Injectable } from '@nestjs/common';
import { DeviceSessionControl } from '../application/ports/device.repository';

/**
 * Session control when the broker runs in this process (embedded mode): the broker registers how to close a
 * device's connection. With no broker attached there is no session to close.
 */
@Injectable()
export class InProcessDeviceSessions extends DeviceSessionControl {
  private closer: ((serial: string, reason: string) => Promise<void>) | null = null;

  attach(closer: (serial: string, reason: string) => Promise<void>): void {
    this.closer = closer;
  }

  async disconnect(serial: string, reason: string): Promise<void> {
    await this.closer?.(serial, reason);
  }
}
