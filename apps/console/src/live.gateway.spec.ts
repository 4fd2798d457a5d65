import type { Server } from 'ws';
import { Topics } from '@linan/contracts';
import {
  MemoryLiveFanout, MessageBus, envelope, type ConsumerHandle, type ConsumerLag, type InboundMessage, type OutgoingMessage, type RootLogger,
  type Subscription,
} from '@linan/platform';
import type { Actor, JwtTokenIssuer } from '@linan/auth';
import pino from 'pino';
import { LiveGateway } from './live.gateway';

/** A bus with Kafka's group semantics where it matters here: one member of a group gets each message. */
class GroupBus extends MessageBus {
  private readonly groups = new Map<string, Subscription[]>();

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    for (const [, members] of this.groups) {
      const member = members.find((s) => s.topics.includes(topic));
      const inbound = messages.map((m, i): InboundMessage => ({
        topic, partition: 0, offset: String(i), key: m.key, value: m.value, headers: m.headers ?? {}, timestamp: 0, attempt: 1,
      }));
      if (member?.handleBatch && inbound.length > 1) await member.handleBatch(inbound);
      else for (const m of inbound) await member?.handle(m);
    }
  }

  async subscribe(s: Subscription): Promise<ConsumerHandle> {
    this.groups.set(s.groupId, [...(this.groups.get(s.groupId) ?? []), s]);
    return { stop: async () => void this.groups.set(s.groupId, (this.groups.get(s.groupId) ?? []).filter((x) => x !== s)) };
  }

  async lag(): Promise<ConsumerLag[]> {
    return [];
  }

  async close(): Promise<void> {}
}

interface FakeSocket {
  actor: Actor;
  readyState: number;
  OPEN: number;
  received: Record<string, unknown>[];
  send(text: string): void;
}

const socket = (district: string | null): FakeSocket => ({
  actor: { id: 'u', username: 'u', role: 'operator', district }, readyState: 1, OPEN: 1, received: [],
  send(text: string) {
    this.received.push(JSON.parse(text) as Record<string, unknown>);
  },
});

const log = pino({ level: 'silent' }) as RootLogger;

/** Two console replicas: their own sockets each, one bus group between them, one live fan-out. */
async function replicas() {
  const bus = new GroupBus();
  const live = new MemoryLiveFanout(log);
  const make = async (...sockets: FakeSocket[]) => {
    const g = new LiveGateway({} as JwtTokenIssuer, bus, live, log);
    g.server = { clients: new Set(sockets) } as unknown as Server;
    await g.onApplicationBootstrap();
    return g;
  };
  const siming = socket('思明区');
  const huli = socket('湖里区');
  const centre = socket(null);
  const siming2 = socket('思明区');
  const gateways = [await make(siming, huli), await make(centre, siming2)];
  return { bus, live, gateways, siming, huli, centre, siming2 };
}

describe(LiveGateway.name, () => {
  it('relays each alert change once through the fan-out, and every replica shows it to its own sockets of that district', async () => {
    const { bus, live, gateways, siming, huli, centre, siming2 } = await replicas();
    const relayed: unknown[] = [];
    live.subscribe((m) => relayed.push(m));
    await bus.publish(Topics.alertChanges, [envelope(Topics.alertChanges, 'hh-1', {
      alertId: 'a1', householdId: 'hh-1', district: '思明区', status: 'open', priority: 'P1', kind: 'alert_opened',
    }, { occurredAt: Date.UTC(2026, 0, 1) })]);
    expect(relayed).toHaveLength(1);
    const shown = { type: 'alert.changed', alertId: 'a1', district: '思明区', kind: 'alert_opened', at: '2026-01-01T00:00:00.000Z' };
    expect(siming.received).toEqual([expect.objectContaining(shown)]);
    expect(siming2.received).toEqual([expect.objectContaining(shown)]);
    expect(centre.received).toEqual([expect.objectContaining(shown)]);
    expect(huli.received).toEqual([]);
    await Promise.all(gateways.map((g) => g.onApplicationShutdown()));
  });

  it('relays a burst of changes as one handover, leaving out an unreadable one', async () => {
    const { bus, live, gateways, siming, centre } = await replicas();
    const handovers: number[] = [];
    const publishAll = live.publishAll.bind(live);
    live.publishAll = async (ms) => {
      handovers.push(ms.length);
      await publishAll(ms);
    };
    const change = (alertId: string) => envelope(Topics.alertChanges, 'hh-1', {
      alertId, householdId: 'hh-1', district: '思明区', status: 'open', priority: 'P1', kind: 'alert_opened',
    });
    await bus.publish(Topics.alertChanges, [change('b1'), { key: 'hh-1', value: 'not an envelope' }, change('b2')]);
    expect(handovers).toEqual([2]);
    expect(siming.received.map((m) => m.alertId)).toEqual(['b1', 'b2']);
    expect(centre.received.map((m) => m.alertId)).toEqual(['b1', 'b2']);
    await Promise.all(gateways.map((g) => g.onApplicationShutdown()));
  });

  it('shows an operator notice from dispatch on every replica, by district', async () => {
    const { live, gateways, siming, huli, centre, siming2 } = await replicas();
    await live.publish({ district: '湖里区', body: { type: 'operator.notice', alertId: 'a2', alertType: 'smoke' } });
    expect(huli.received).toEqual([{ type: 'operator.notice', alertId: 'a2', alertType: 'smoke' }]);
    expect(centre.received).toHaveLength(1);
    expect(siming.received).toEqual([]);
    expect(siming2.received).toEqual([]);
    await Promise.all(gateways.map((g) => g.onApplicationShutdown()));
  });

  it('stops showing once shut down', async () => {
    const { live, gateways, centre } = await replicas();
    await gateways[1].onApplicationShutdown();
    await live.publish({ district: '思明区', body: { type: 'operator.notice', alertId: 'a3' } });
    expect(centre.received).toEqual([]);
    await gateways[0].onApplicationShutdown();
  });

  it('writes a burst of changes to each console in one TCP write: its socket corked from the first frame until all are queued', async () => {
    const { bus, gateways, siming, huli, centre } = await replicas();
    // what ws's TCP socket sees, in order: corks, frames and uncorks
    const seen = (s: FakeSocket) => {
      const events: string[] = [];
      let corks = 0;
      const send = s.send.bind(s);
      Object.assign(s, {
        _socket: { destroyed: false, cork: () => events.push(`cork ${++corks}`), uncork: () => events.push(`uncork ${corks--}`) },
        send: (text: string) => {
          send(text);
          events.push(`frame ${String((JSON.parse(text) as { alertId: string }).alertId)}`);
        },
      });
      return events;
    };
    const [atSiming, atHuli, atCentre] = [seen(siming), seen(huli), seen(centre)];
    const change = (alertId: string, district: string) => envelope(Topics.alertChanges, 'hh-1', {
      alertId, householdId: 'hh-1', district, status: 'open', priority: 'P1', kind: 'alert_opened',
    });
    await bus.publish(Topics.alertChanges, [change('c1', '思明区'), change('c2', '湖里区'), change('c3', '思明区')]);
    await new Promise((r) => process.nextTick(r));
    expect(atSiming).toEqual(['cork 1', 'frame c1', 'frame c3', 'uncork 1']);
    expect(atHuli).toEqual(['cork 1', 'frame c2', 'uncork 1']);
    expect(atCentre).toEqual(['cork 1', 'frame c1', 'frame c2', 'frame c3', 'uncork 1']);
    // the next burst corks anew
    await bus.publish(Topics.alertChanges, [change('c4', '思明区')]);
    await new Promise((r) => process.nextTick(r));
    expect(atSiming.slice(4)).toEqual(['cork 1', 'frame c4', 'uncork 1']);
    await Promise.all(gateways.map((g) => g.onApplicationShutdown()));
  });
});
