import Redis from 'ioredis';
import { describeWithRedis, redisNamespace, type RedisNamespace } from '../../../testing/src/services/redis';
import { eventually, silentLogger } from '../../../testing/src/test-platform';
import type { LiveFanout, LiveMessage } from './live-fanout';
import { MemoryLiveFanout } from './memory.live-fanout';
import { RedisLiveFanout } from './redis.live-fanout';

const notice = (alertId: string, district = '思明区'): LiveMessage => ({
  district, body: { type: 'operator.notice', alertId, priority: 'P1', householdName: '张三丰', round: 0 },
});

/**
 * What every LiveFanout must do, given a way to open "processes" on one channel (one instance in memory: all the
 * consoles are in one process there; several over Redis). Delivery may be asynchronous, so tests wait for it.
 */
function fanoutBehaviour(open: () => Promise<{ publisher: LiveFanout; consoles: LiveFanout[] }>) {
  it('delivers each message, district and body intact, to every subscriber', async () => {
    const { publisher, consoles } = await open();
    const got = consoles.map(() => [] as LiveMessage[]);
    consoles.forEach((c, i) => c.subscribe((m) => got[i].push(m)));
    await Promise.all(consoles.map((c) => c.whenListening()));
    await publisher.publish(notice('a1'));
    await publisher.publish(notice('a2', '湖里区'));
    await eventually(() => got.every((g) => g.length === 2), 3000, 'both messages everywhere');
    for (const g of got) expect(g).toEqual([notice('a1'), notice('a2', '湖里区')]);
  });

  it('delivers the messages of one publishAll to every subscriber, each on its own and in order', async () => {
    const { publisher, consoles } = await open();
    const got = consoles.map(() => [] as LiveMessage[]);
    consoles.forEach((c, i) => c.subscribe((m) => got[i].push(m)));
    await Promise.all(consoles.map((c) => c.whenListening()));
    const burst = [notice('b1'), notice('b2', '湖里区'), notice('b3')];
    await publisher.publishAll(burst);
    await publisher.publishAll([]);
    await publisher.publish(notice('b4'));
    await eventually(() => got.every((g) => g.length === 4), 3000, 'the burst and the single message everywhere');
    for (const g of got) expect(g).toEqual([...burst, notice('b4')]);
  });

  it('stops delivering to a handler once it unsubscribes, and keeps delivering to the others', async () => {
    const { publisher, consoles } = await open();
    const kept: string[] = [];
    const dropped: string[] = [];
    consoles[0].subscribe((m) => kept.push(String(m.body.alertId)));
    const off = consoles[0].subscribe((m) => dropped.push(String(m.body.alertId)));
    off();
    await consoles[0].whenListening();
    await publisher.publish(notice('a1'));
    await eventually(() => kept.length === 1, 3000, 'the kept handler');
    expect(dropped).toEqual([]);
  });

  it('a handler that throws does not keep the message from the next one', async () => {
    const { publisher, consoles } = await open();
    const got: string[] = [];
    consoles[0].subscribe(() => {
      throw new Error('a broken socket');
    });
    consoles[0].subscribe((m) => got.push(String(m.body.alertId)));
    await consoles[0].whenListening();
    await publisher.publish(notice('a1'));
    await eventually(() => got.length === 1, 3000, 'the second handler');
  });

  it('refuses a body that JSON cannot carry', async () => {
    const { publisher } = await open();
    await expect(publisher.publish({ district: 'x', body: { type: 't', n: 1n } })).rejects.toThrow(/BigInt/);
  });
}

describe(MemoryLiveFanout.name, () => {
  fanoutBehaviour(async () => {
    const f = new MemoryLiveFanout(silentLogger);
    return { publisher: f, consoles: [f] };
  });

  it('hands each subscriber its own copy', async () => {
    const f = new MemoryLiveFanout(silentLogger);
    const got: LiveMessage[] = [];
    f.subscribe((m) => got.push(m));
    const sent = notice('a1');
    await f.publish(sent);
    expect(got[0]).toEqual(sent);
    expect(got[0]).not.toBe(sent);
  });
});

describeWithRedis(`${RedisLiveFanout.name} (Redis)`, () => {
  let ns: RedisNamespace;
  const opened: RedisLiveFanout[] = [];
  const connect = async (keyPrefix = ns.keyPrefix) => {
    const f = new RedisLiveFanout({ url: ns.url, keyPrefix }, silentLogger);
    opened.push(f);
    await f.connect();
    return f;
  };

  beforeAll(() => {
    ns = redisNamespace();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((f) => f.close()));
  });

  describe('behaves as a LiveFanout (a dispatch process and two console replicas)', () => {
    fanoutBehaviour(async () => {
      const [publisher, a, b] = await Promise.all([connect(), connect(), connect()]);
      return { publisher, consoles: [a, b] };
    });
  });

  it('publishes on <keyPrefix>live, so two deployments on one Redis stay apart', async () => {
    const mine = await connect();
    const theirs = await connect(`${ns.keyPrefix}other:`);
    expect(mine.channel).toBe(`${ns.keyPrefix}live`);
    const heard: string[] = [];
    theirs.subscribe((m) => heard.push(String(m.body.alertId)));
    mine.subscribe((m) => heard.push(`mine:${String(m.body.alertId)}`));
    await Promise.all([mine.whenListening(), theirs.whenListening()]);
    await mine.publish(notice('a1'));
    await eventually(() => heard.includes('mine:a1'), 3000, 'own message');
    await new Promise((r) => setTimeout(r, 100));
    expect(heard).toEqual(['mine:a1']);
  });

  it('subscribes only in a process that shows something live (a console), from its first handler on', async () => {
    const f = await connect();
    const raw = new Redis(ns.url);
    const subscribers = async () => Number(((await raw.pubsub('NUMSUB', f.channel)) as [string, number])[1]);
    try {
      await f.publish(notice('a0')); // publishing alone (gateway, triage, dispatch) needs no subscription
      expect(await subscribers()).toBe(0);
      const got: string[] = [];
      f.subscribe((m) => got.push(String(m.body.alertId)));
      await f.whenListening();
      expect(await subscribers()).toBe(1);
      await f.publish(notice('a1'));
      await eventually(() => got.length === 1, 3000, 'the message after the first handler');
      expect(got).toEqual(['a1']);
    } finally {
      raw.disconnect();
    }
  });

  it('ignores an unreadable message on the channel, and an unreadable entry of a burst, and goes on', async () => {
    const warnings: string[] = [];
    const log = Object.assign(Object.create(silentLogger) as typeof silentLogger, { warn: (_o: unknown, msg: string) => void warnings.push(msg) });
    const f = new RedisLiveFanout({ url: ns.url, keyPrefix: ns.keyPrefix }, log);
    opened.push(f);
    await f.connect();
    const got: string[] = [];
    f.subscribe((m) => got.push(String(m.body.alertId)));
    await f.whenListening();
    const raw = new Redis(ns.url);
    try {
      await raw.publish(f.channel, 'not json');
      await raw.publish(f.channel, JSON.stringify({ district: 1, body: {} }));
      await raw.publish(f.channel, JSON.stringify([notice('b1'), { district: '思明区' }, notice('b2')]));
    } finally {
      raw.disconnect();
    }
    await f.publish(notice('a1'));
    await eventually(() => got.length === 3, 3000, 'the readable messages');
    expect(got).toEqual(['b1', 'b2', 'a1']);
    expect(warnings).toEqual(['unreadable live message ignored', 'unreadable live message ignored', 'unreadable live message ignored']);
  });

  it('is ready once connected (a console once it is also subscribed), and stops the boot when Redis cannot be reached', async () => {
    const f = await connect();
    await expect(f.ping()).resolves.toBeUndefined();
    f.subscribe(() => undefined);
    await expect(f.ping()).rejects.toThrow(/not subscribed yet/);
    await f.whenListening();
    await expect(f.ping()).resolves.toBeUndefined();
    const bad = new RedisLiveFanout({ url: 'redis://127.0.0.1:1', keyPrefix: 'x:' }, silentLogger);
    await expect(bad.connect()).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\)/);
    await bad.close();
  });
});
