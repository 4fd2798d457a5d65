import pino, { type Logger } from 'pino';

/** Paths that can carry personal data; their values never reach a log line. */
export const REDACTED_PATHS = [
  'password', '*.password', 'secret', '*.secret', 'phone', '*.phone', 'address', '*.address', 'name', '*.name',
  'contacts', '*.contacts', 'req.headers.authorization', 'accessToken', '*.accessToken',
];

export function createLogger(level: string, pretty: boolean): Logger {
  return pino({
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'linan' },
    transport: pretty ? { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } : undefined,
  });
}

/** 13812345678 → 138****5678: what may appear in SMS text and logs. */
export function maskPhone(phone: string): string {
  return phone.length >= 7 ? `${phone.slice(0, 3)}****${phone.slice(-4)}` : '****';
}
