/**
 * Short-lived shared state (presence, duplicate suppression). Redis in distributed mode, memory in embedded mode.
 * Nothing here is the record of truth: losing it may cost a duplicate check, never an alarm.
 */
export abstract class Cache {
  /** Sets the key only if absent; true when this call set it. */
  abstract setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  abstract set(key: string, value: string, ttlMs: number): Promise<void>;
  abstract get(key: string): Promise<string | null>;
  abstract delete(key: string): Promise<void>;
}
