/** A small client of the platform's HTTP API, as a console or an integration would use it. */
export class ApiError extends Error {
  constructor(readonly method: string, readonly path: string, readonly status: number, readonly body: unknown) {
    super(`${method} ${path} → ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  private token: string | null = null;

  constructor(readonly baseUrl: string) {}

  async login(username: string, password: string): Promise<void> {
    const r = await this.request<{ accessToken: string }>('POST', '/api/v1/auth/login', { username, password });
    this.token = r.accessToken;
  }

  /** The signed-in user's token (the live channel signs in with it). */
  get accessToken(): string | null {
    return this.token;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async text(path: string): Promise<string> {
    const r = await fetch(this.baseUrl + path, { headers: this.headers() });
    const t = await r.text();
    if (!r.ok) throw new ApiError('GET', path, r.status, t);
    return t;
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(this.baseUrl + path, {
      method,
      headers: { ...this.headers(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const t = await r.text();
    let parsed: unknown = t;
    try {
      parsed = t ? JSON.parse(t) : null;
    } catch {
      /* not JSON: keep the text */
    }
    if (!r.ok) throw new ApiError(method, path, r.status, parsed);
    return parsed as T;
  }

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// --- the shapes of the API answers the scripts read ---

export interface Created {
  id: string;
}

export interface HouseholdView extends Created {
  name: string;
  district: string;
  street: string;
  community: string;
}

export interface DeviceRegistered extends Created {
  serial: string;
  mqtt: { clientId: string; username: string; password: string; url?: string };
}

export interface AlertSummary {
  id: string;
  type: string;
  priority: string;
  status: string;
  householdId: string;
  deviceId: string;
  createdAt: string;
  deviceTime: string | null;
  eventCount: number;
}

export interface DispatchView {
  id: string;
  round: number;
  recipientKind: string;
  recipientName: string;
  channel: string;
  status: string;
  attempts: number;
  lastError?: string | null;
  createdAt: number | string;
  updatedAt: number | string;
}

export interface TimelineEntry {
  at: string;
  kind: string;
  actor: string;
  details: Record<string, unknown>;
}

export interface AlertDetail extends AlertSummary {
  openedAt: string;
  timeline: TimelineEntry[];
  dispatches: DispatchView[];
}

export interface SmsView {
  to: string;
  text: string;
  reference: string;
  providerRef: string;
  at: string;
}

/** Epoch milliseconds from an API time (ISO text or a number). */
export const epochMs = (t: number | string | null | undefined): number => (t === null || t === undefined ? NaN : typeof t === 'number' ? t : Date.parse(t));
