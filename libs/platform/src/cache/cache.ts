/**
 * Short-lived shared state (presence, duplicate suppression, lists of recent things). Redis in distributed mode, memory
 * in embedded mode.
 * Nothing here is the record of truth: losing it may cost a duplicate check, never an alarm.
 */
export abstract class Cache {
  /** Sets the key only if absent; true when this call set it. */
  abstract setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  abstract set(key: string, value: string, ttlMs: number): Promise<void>;
  abstract get(key: string): Promise<string | null>;
  abstract delete(key: string): Promise<void>;
  /** Puts values (oldest first) at the head of a capped list, which keeps its `keep` newest: one step, whoever else pushes. */
  abstract pushRecent(key: string, values: readonly string[], keep: number): Promise<void>;
  /** A capped list's newest `count` values, newest first. */
  abstract recent(key: string, count: number): Promise<string[]>;
}
