import { FakeClock } from '@linan/platform';
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
});
