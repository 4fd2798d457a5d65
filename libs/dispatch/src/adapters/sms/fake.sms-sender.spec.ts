import { FakeCache, FakeClock, type RootLogger } from '@linan/platform';
import { silentLogger } from '../../../../testing/src/test-platform';
import { DeliveryError } from '../../application/ports/notification.ports';
import { FakeSmsSender } from './fake.sms-sender';

describe('FakeSmsSender', () => {
  const send = (sender: FakeSmsSender, n: number, from = 0) =>
    Promise.all(Array.from({ length: n }, (_, i) => sender.send({ to: '13800000000', text: `m${from + i}`, reference: `r${from + i}` })));

  it('keeps the last `keep` messages, oldest first, however many were sent', async () => {
    const sender = new FakeSmsSender(new FakeClock(), 4);
    await send(sender, 3);
    expect(sender.messages().map((m) => m.text)).toEqual(['m0', 'm1', 'm2']);
    await send(sender, 7, 3);
    expect(sender.messages().map((m) => m.text)).toEqual(['m6', 'm7', 'm8', 'm9']);
    await send(sender, 1, 10);
    expect(sender.messages().map((m) => m.text)).toEqual(['m7', 'm8', 'm9', 'm10']);
  });

  it('gives each message its own provider reference and fails the sends it is told to', async () => {
    const sender = new FakeSmsSender(new FakeClock());
    sender.failNext('transient');
    await expect(sender.send({ to: '13800000000', text: 'x', reference: 'a' })).rejects.toBeInstanceOf(DeliveryError);
    const [a, b] = await send(sender, 2);
    expect(a.providerRef).toMatch(/^fake-/);
    expect(a.providerRef).not.toBe(b.providerRef);
    expect(sender.messages()).toHaveLength(2);
  });

  describe('with a shared list (distributed mode)', () => {
    const log = silentLogger as unknown as RootLogger;
    const turn = () => new Promise((r) => setImmediate(r));

    it('lists what every replica sent, newest first, with the numbers masked, the newest `keep` only', async () => {
      const cache = new FakeCache();
      const [a, b] = [new FakeSmsSender(new FakeClock(), 3, { cache, log }), new FakeSmsSender(new FakeClock(), 3, { cache, log })];
      await a.send({ to: '13800001111', text: 'a1', reference: 'r1' });
      await a.send({ to: '13800002222', text: 'a2', reference: 'r2' });
      await turn();
      await b.send({ to: '13900003333', text: 'b1', reference: 'r3' });
      await turn();
      expect((await a.recent()).map((m) => [m.text, m.to])).toEqual([['b1', '139****3333'], ['a2', '138****2222'], ['a1', '138****1111']]);
      expect((await b.recent()).map((m) => m.text)).toEqual(['b1', 'a2', 'a1']);
      // one command per turn of the event loop, whatever the number of messages
      expect(cache.calls.filter((c) => c === 'pushRecent')).toHaveLength(2);
      await b.send({ to: '13900004444', text: 'b2', reference: 'r4' });
      await turn();
      expect((await a.recent()).map((m) => m.text)).toEqual(['b2', 'b1', 'a2']);
      // this process's own list is still there for tests
      expect(a.messages().map((m) => m.text)).toEqual(['a1', 'a2']);
    });

    it('sends even when the shared list cannot take the message, and says so when it cannot be read', async () => {
      const cache = new FakeCache();
      const sender = new FakeSmsSender(new FakeClock(), 10, { cache, log });
      cache.fail(['pushRecent', 'recent']);
      await expect(sender.send({ to: '13800001111', text: 'x', reference: 'r' })).resolves.toMatchObject({ providerRef: expect.stringMatching(/^fake-/) });
      await turn();
      await expect(sender.recent()).rejects.toThrow(/fake Redis down/);
      cache.recover();
      expect(await sender.recent()).toEqual([]);
    });

    it('without one, lists this process\'s messages, newest first', async () => {
      const sender = new FakeSmsSender(new FakeClock());
      await send(sender, 2);
      expect((await sender.recent()).map((m) => m.text)).toEqual(['m1', 'm0']);
    });
  });
});
