/** The kinds of failure the HTTP filter and the consumer base know how to map. */
export type ErrorKind = 'not_found' | 'conflict' | 'invalid' | 'forbidden' | 'unauthorized' | 'unavailable';

/** Base of every domain and application error: a stable code plus a kind. */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DomainError';
  }
}

export const notFound = (code: string, message: string) => new DomainError(code, 'not_found', message);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'conflict', message, details);
export const invalid = (code: string, message: string, details?: Record<string, unknown>) =>
  new DomainError(code, 'invalid', message, details);
export const forbidden = (code: string, message: string) => new DomainError(code, 'forbidden', message);

/**
 * A message that can never be processed (bad shape, unknown reference): it goes to the dead-letter topic at once.
 * Any other error thrown by a consumer is treated as transient and retried.
 */
export class PermanentMessageError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
    this.name = 'PermanentMessageError';
  }
}
