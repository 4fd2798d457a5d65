import type { DeviceEventType } from './device-protocol';

export type Priority = 'P1' | 'P2' | 'P3' | 'P4';

/** P1 life, P2 property and health, P3 verification, P4 maintenance. */
export const PRIORITY_BY_EVENT: Readonly<Record<DeviceEventType, Priority>> = Object.freeze({
  sos: 'P1', smoke: 'P1', gas: 'P1', fall: 'P1',
  water: 'P2', inactivity: 'P2',
  power_loss: 'P3',
  test: 'P4',
  low_battery: 'P4', tamper: 'P4', fault: 'P4', power_restored: 'P4',
});
