import type { DeviceEventType, Priority } from '@linan/contracts';
import type { Alert, AlertStatus, Outcome } from '../domain/alert';
import type { AlertOrmEntity } from './alert.orm-entity';

const ms = (d: Date | null): number | null => (d ? new Date(d).getTime() : null);
const date = (n: number | null): Date | null => (n === null ? null : new Date(n));

export const AlertMapper = {
  toDomain(e: AlertOrmEntity): Alert {
    return {
      id: e.id, householdId: e.householdId, deviceId: e.deviceId, type: e.type as DeviceEventType, priority: e.priority as Priority,
      status: e.status as AlertStatus, district: e.district, community: e.community, openedAt: ms(e.openedAt)!,
      firstDeviceTs: ms(e.firstDeviceTs)!, eventCount: e.eventCount, acknowledgedAt: ms(e.acknowledgedAt), acknowledgedBy: e.acknowledgedBy,
      resolvedAt: ms(e.resolvedAt), resolvedBy: e.resolvedBy, outcome: e.outcome as Outcome | null, note: e.note, policy: e.policy,
      escalationRound: e.escalationRound, escalationDueAt: ms(e.escalationDueAt), timerId: e.timerId,
    };
  },
  toOrm(a: Alert): AlertOrmEntity {
    return {
      ...a, openedAt: new Date(a.openedAt), firstDeviceTs: new Date(a.firstDeviceTs), acknowledgedAt: date(a.acknowledgedAt),
      resolvedAt: date(a.resolvedAt), escalationDueAt: date(a.escalationDueAt),
    };
  },
};
