import { FIXED_KAFKAJS_VERSION, kafkajsModule } from './kafkajs-internals';
import { fixKafkaRequestQueue, type RequestQueueLike } from './kafkajs-request-queue';
type Entry = { correlationId: number; apiKey: number; apiName: string; apiVersion: number; resolve: () => void; reject: () => void };
type Pushed = { entry: Entry; expectResponse: boolean; sendRequest: () => void };
type Queue = RequestQueueLike & {
  push(p: Pushed): void;
  maybeThrottle(ms: number): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer | null; size: number }): void;
  destroy(): void;
};
const RequestQueue = kafkajsModule<{ new (o: Record<string, unknown>): Queue; prototype: RequestQueueLike }>('./src/network/requestQueue/index.js');
// kafkajs's own method, taken before the fix replaces it for the process
const original = RequestQueue.prototype.scheduleCheckPendingRequests;

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const queue = (maxInFlightRequests: number | null = null): Queue =>
  new RequestQueue({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger: quiet });
const request = (correlationId: number, sent: number[], expectResponse = false): Pushed => ({
  entry: { correlationId, apiKey: 1, apiName: 'Fetch', apiVersion: 11, resolve: () => undefined, reject: () => undefined }, expectResponse, sendRequest: () => void sent.push(correlationId),
});

describe('the kafkajs request-queue fix', () => {
  const made: Queue[] = [];
  const make = (max?: number | null) => {
    const q = queue(max);
    made.push(q);
    return q;
  };
  afterEach(() => made.splice(0).forEach((q) => q.destroy()));

  it('is applied to the kafkajs release installed here', () => {
    expect(fixKafkaRequestQueue()).toEqual({ outcome: 'fixed', version: FIXED_KAFKAJS_VERSION });
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).not.toBe(original);
  });

  it("replaces a method that keeps a timer going with nothing waiting (kafkajs's own behaviour)", () => {
    const q = make();
    original.call(q);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
  });

  it('schedules no check while nothing waits, also after a request went out', () => {
    fixKafkaRequestQueue();
    const q = make();
    const sent: number[] = [];
    q.push(request(1, sent));
    q.checkPendingRequests();
    expect(sent).toEqual([1]);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('sends a request held by a throttle once the throttle ends', async () => {
    fixKafkaRequestQueue();
    const q = make();
    const sent: number[] = [];
    q.maybeThrottle(40);
    const at = Date.now();
    q.push(request(1, sent));
    expect(sent).toEqual([]);
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).toEqual([1]);
    expect(Date.now() - at).toBeGreaterThanOrEqual(40);
    expect(q.throttleCheckTimeoutId).toBeNull();
  });

  it('sends a request waiting for an in-flight slot when a response frees one', () => {
    fixKafkaRequestQueue();
    const q = make(1);
    const sent: number[] = [];
    q.push(request(1, sent, true));
    q.push(request(2, sent, true));
    expect(sent).toEqual([1]);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(sent).toEqual([1, 2]);
  });
});
