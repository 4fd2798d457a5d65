import { FIXED_KAFKAJS_VERSION, kafkajsModule } from './kafkajs-internals';
import { encodeProduceRequest, fixKafkaProduceEncoder, type ProduceArgs } from './kafkajs-produce-encoder';

type Enc = { buffer: Buffer };
const Long = kafkajsModule<{ fromInt(n: number): unknown; fromString(s: string): unknown }>('./src/utils/long.js');
const Types = kafkajsModule<{ Types: { None: number; GZIP: number } }>('./src/protocol/message/compression/index.js').Types;
const ProduceV3 = kafkajsModule<(a: ProduceArgs) => { encode(): Promise<Enc> }>('./src/protocol/requests/produce/v3/request.js');
const Produce = kafkajsModule<{ requests: { Produce: { protocol(o: { version: number }): (a: ProduceArgs) => { request: { apiVersion: number; encode(): Promise<Enc> } } } } }>(
  './src/protocol/requests/index.js',
).requests.Produce;
const k = {
  encoderPrototype: kafkajsModule<{ prototype: object }>('./src/protocol/encoder.js').prototype,
  crc32C: kafkajsModule<(b: Buffer) => number>('./src/protocol/recordBatch/crc32C/index.js'),
  NONE: Types.None,
};

const ours = (args: ProduceArgs): Buffer | null => (encodeProduceRequest(k, args) as Enc | null)?.buffer ?? null;
const theirs = async (args: ProduceArgs): Promise<Buffer> => (await ProduceV3(args).encode()).buffer;
const NOW = 1_764_000_000_000;

const envelope = JSON.stringify({ eventId: 'e-1', payload: { serial: 'SOS-0001', type: 'sos', note: '张大爷家 烟感报警 🔥', n: 1 } });
const messages = [
  { key: 'home-1', value: envelope, headers: { eventId: 'e-1', correlationId: 'SOS-0001:a', schemaVersion: '1' } },
  { key: null, value: 'x' },
  { key: Buffer.from([0, 1, 2, 255]), value: Buffer.from('raw bytes'), headers: { multi: ['a', 'b', Buffer.from('c')], empty: '' } },
  { key: '', value: null },
  { key: 'long', value: 'v'.repeat(200) + '长'.repeat(6000), headers: { ['h'.repeat(130)]: '值'.repeat(50) } },
];
const request = (partitions: ProduceArgs['topicData'][number]['partitions'], over: Partial<ProduceArgs> = {}): ProduceArgs =>
  ({ acks: -1, timeout: 30_000, topicData: [{ topic: 'device.events.v1', partitions }], ...over });

describe("the produce encoder (the same bytes as kafkajs's own)", () => {
  let now: jest.SpyInstance;
  beforeEach(() => (now = jest.spyOn(Date, 'now').mockReturnValue(NOW)));
  afterEach(() => now.mockRestore());

  it.each([0, 1, 63, 64, 8191, 8192, 1_000_000, 2 ** 28 - 1])('writes records %d ms apart as kafkajs does', async (step) => {
    const args = request([{ partition: 2, messages: messages.map((m, i) => ({ ...m, timestamp: NOW + i * step })) }]);
    expect(ours(args)!.equals(await theirs(args))).toBe(true);
  });

  it('writes messages without timestamps, several topics and partitions, and offsets past one varint byte', async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ key: `home-${i % 7}`, value: `v${i}`, headers: { eventId: `e-${i}` } }));
    const args: ProduceArgs = {
      acks: 1, timeout: 5_000, topicData: [
        { topic: 'device.events.v1', partitions: [{ partition: 0, messages }, { partition: 3, messages: many }] },
        { topic: '告警.v1', partitions: [{ partition: 1, messages: [{ key: 'a', value: 'b', timestamp: '1764000000123' }, { key: 'c', value: 'd', timestamp: '1764000000100' }] }] },
      ],
    };
    expect(ours(args)!.equals(await theirs(args))).toBe(true);
  });

  it("writes a transactional producer's fields as kafkajs does", async () => {
    const args = request([{ partition: 0, firstSequence: 7, messages }], { transactionalId: 'tx-联', producerId: Long.fromString('123456789012'), producerEpoch: 3 });
    expect(ours(args)!.equals(await theirs(args))).toBe(true);
  });

  it('leaves to kafkajs what it would write differently: 2^30 ms and more within a batch, a fraction of a ms, compression, values it refuses', () => {
    expect(ours(request([{ partition: 0, messages: [{ key: 'a', value: 'b', timestamp: NOW }, { key: 'a', value: 'b', timestamp: NOW + 2 ** 31 }] }]))).toBeNull();
    expect(ours(request([{ partition: 0, messages: [{ key: 'a', value: 'b', timestamp: NOW + 0.5 }] }]))).toBeNull();
    expect(ours(request([{ partition: 0, messages }], { compression: Types.GZIP }))).toBeNull();
    expect(ours(request([{ partition: 0, messages: [{ key: 'a', value: 42 as unknown as string }] }]))).toBeNull();
    expect(ours(request([{ partition: 0, messages: [{ key: 'a', value: 'b', headers: { h: null } }] }]))).toBeNull();
  });

  it("takes over kafkajs's produce requests of versions 3 to 7, and hands what it leaves back to kafkajs's encoder", async () => {
    expect(fixKafkaProduceEncoder()).toEqual({ outcome: 'fixed', version: FIXED_KAFKAJS_VERSION });
    expect(fixKafkaProduceEncoder().outcome).toBe('fixed'); // once per process
    const args = request([{ partition: 0, messages }]);
    const far = request([{ partition: 0, messages: [{ key: 'a', value: 'b', timestamp: NOW }, { key: 'a', value: 'b', timestamp: NOW + 2 ** 31 }] }]);
    for (const version of [3, 4, 5, 6, 7]) {
      const { request: r } = Produce.protocol({ version })(args);
      expect(r.apiVersion).toBe(version);
      expect((await r.encode()).buffer.equals(await theirs(args))).toBe(true);
      expect((await Produce.protocol({ version })(far).request.encode()).buffer.equals(await theirs(far))).toBe(true);
    }
    // a value kafkajs refuses fails as it does without the fix, from kafkajs
    const refused = request([{ partition: 0, messages: [{ key: 'a', value: 42 as unknown as string }] }]);
    await expect(Produce.protocol({ version: 7 })(refused).request.encode()).rejects.toThrow(/argument must be of type string/);
    await expect(theirs(refused)).rejects.toThrow(/argument must be of type string/);
  });
});
