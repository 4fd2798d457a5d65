/**
 * A faster encoder for kafkajs 2.2.4's produce requests (versions 3 to 7, which share one encoding), applied once
 * when the Kafka bus is built. The bytes are the same as kafkajs's own (kafkajs-produce-encoder.spec compares them).
 *
 * kafkajs encodes a request through a fresh `Encoder` for each record, each header, each record batch, partition and
 * topic, each starting with a zero-filled 512-byte buffer that grows by copying, and every varint through a temporary
 * array and a `Buffer.from`. For the platform's messages (a JSON envelope of a few hundred bytes and three headers)
 * that cost 22–84 µs of CPU per record, the more the fewer records a request holds, mostly allocation and garbage
 * collection; an alarm sends five or so records through the chain. Here the request is measured first and written
 * once into one buffer of its exact size (the batches' CRC with kafkajs's own crc32C): 3–7 µs per record
 * (`npm run bench:kafka-encoder` compares the two). Compressed
 * requests, and anything kafkajs's encoder would take differently (values other than strings, Buffers and null,
 * timestamps other than whole numbers, time spans in a batch of 12 days and more), go to kafkajs's encoder unchanged.
 */
import { kafkajsFix, kafkajsModule } from './kafkajs-internals';

type Bytes = Buffer | string | null | undefined;
interface ProduceMessage {
  key?: Bytes;
  value: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
  timestamp?: number | string;
}
interface ProducePartition {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}
export interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: { topic: string; partitions: ProducePartition[] }[];
}

type Encoded = { buf: Buffer; offset: number };
interface Kafkajs {
  /** kafkajs's Encoder prototype: the request handed back is one, holding exactly its bytes. */
  encoderPrototype: object;
  crc32C(b: Buffer): number;
  NONE: number;
}

function kafkajs(): Kafkajs {
  return {
    encoderPrototype: kafkajsModule<{ prototype: object }>('./src/protocol/encoder.js').prototype,
    crc32C: kafkajsModule<(b: Buffer) => number>('./src/protocol/recordBatch/crc32C/index.js'),
    NONE: kafkajsModule<{ Types: { None: number } }>('./src/protocol/message/compression/index.js').Types.None,
  };
}

/** The zig-zag form of a 32-bit integer, unsigned (the bits kafkajs's `encodeZigZag` writes). */
const zigzag = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;

function varintSize(v: number): number {
  let z = zigzag(v);
  let n = 1;
  while (z & 0xffffff80) {
    n++;
    z >>>= 7;
  }
  return n;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  let z = zigzag(v);
  while (z & 0xffffff80) {
    buf[at++] = (z & 0x7f) | 0x80;
    z >>>= 7;
  }
  buf[at++] = z;
  return at;
}

/** Byte length of a key, value or header as kafkajs writes it (-1 for null). */
const byteLength = (v: Bytes): number => (v == null ? -1 : typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length);
const plain = (v: unknown): v is Bytes => v == null || typeof v === 'string' || Buffer.isBuffer(v);

function writeVarBytes(buf: Buffer, at: number, v: Bytes, length: number): number {
  at = writeVarint(buf, at, length);
  if (v == null) return at;
  if (typeof v === 'string') return at + buf.write(v, at, length, 'utf8');
  v.copy(buf, at);
  return at + length;
}

/** A record measured (kafkajs's recordBatch/record/v0): what is written, and how long each part is. */
interface RecordPlan {
  m: ProduceMessage;
  offsetDelta: number;
  timestampDelta: number;
  keyLength: number;
  valueLength: number;
  headers: [string, Bytes, number, number][];
  body: number;
  size: number;
}

/**
 * Null when kafkajs's encoder would write the record differently or refuse it. A timestamp delta within ±2^30 ms
 * (12 days) has the same zig-zag varint as a 32-bit integer as kafkajs's 64-bit varlong gives it.
 */
function planRecord(m: ProduceMessage, offsetDelta: number, timestampDelta: number): RecordPlan | null {
  if (!Number.isInteger(timestampDelta) || Math.abs(timestampDelta) >= 2 ** 30 || !plain(m.key) || !plain(m.value)) return null;
  const headers: RecordPlan['headers'] = [];
  for (const name of Object.keys(m.headers ?? {})) {
    const v = m.headers![name];
    for (const one of Array.isArray(v) ? v : [v]) {
      // kafkajs measures a header value with Buffer.byteLength, which takes only strings and Buffers
      if (one == null || !plain(one)) return null;
      headers.push([name, one, Buffer.byteLength(name, 'utf8'), byteLength(one)]);
    }
  }
  const keyLength = byteLength(m.key);
  const valueLength = byteLength(m.value);
  let body = 1 + varintSize(timestampDelta) + varintSize(offsetDelta) + varintSize(keyLength) + Math.max(keyLength, 0) +
    varintSize(valueLength) + Math.max(valueLength, 0) + varintSize(headers.length);
  for (const [, , nameLength, length] of headers) body += varintSize(nameLength) + nameLength + varintSize(length) + length;
  return { m, offsetDelta, timestampDelta, keyLength, valueLength, headers, body, size: varintSize(body) + body };
}

function writeRecord(buf: Buffer, at: number, r: RecordPlan): number {
  at = writeVarint(buf, at, r.body);
  buf[at++] = 0; // attributes: none used
  at = writeVarint(buf, at, r.timestampDelta);
  at = writeVarint(buf, at, r.offsetDelta);
  at = writeVarBytes(buf, at, r.m.key, r.keyLength);
  at = writeVarBytes(buf, at, r.m.value, r.valueLength);
  at = writeVarint(buf, at, r.headers.length);
  for (const [name, v, nameLength, length] of r.headers) {
    at = writeVarBytes(buf, at, name, nameLength);
    at = writeVarBytes(buf, at, v, length);
  }
  return at;
}

/** A whole number as kafkajs's writeInt64 takes it (a number, a string of digits, a Long), or null. */
function int64(v: unknown): bigint | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : null;
  const text = typeof v === 'string' ? v : v && typeof v === 'object' ? String(v) : '';
  return /^-?\d{1,19}$/.test(text) ? BigInt.asIntN(64, BigInt(text)) : null;
}

/** Bytes of a record batch (kafkajs's recordBatch/v0, magic 2) before its records: up to and including their count. */
const BATCH_HEAD = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

interface PartitionPlan {
  partition: number;
  records: RecordPlan[];
  firstTimestamp: bigint;
  maxTimestamp: bigint;
  firstSequence: number;
  size: number;
}

/**
 * kafkajs's produce request v3 (requests/produce/v3/request.js: topics, partitions, one record batch each) as one
 * Encoder holding exactly its bytes, or null when kafkajs's own encoder must write it.
 */
export function encodeProduceRequest(k: Kafkajs, args: ProduceArgs): Encoded | null {
  const { acks, timeout, transactionalId = null, producerEpoch = 0, topicData } = args;
  const producerId = args.producerId === undefined ? -1n : int64(args.producerId);
  if (producerId === null || (args.compression ?? k.NONE) !== k.NONE) return null;
  const transactional = transactionalId == null ? 0 : Buffer.byteLength(transactionalId, 'utf8');
  let size = 2 + transactional + 2 + 4 + 4;
  const topics: { topic: string; topicLength: number; partitions: PartitionPlan[] }[] = [];
  for (const { topic, partitions } of topicData) {
    const plans: PartitionPlan[] = [];
    const topicLength = Buffer.byteLength(topic, 'utf8');
    size += 2 + topicLength + 4;
    for (const { partition, messages, firstSequence = 0 } of partitions) {
      const dateNow = Date.now();
      // as kafkajs does it (its sort compares as strings)
      const stamps = messages.map((m) => m.timestamp).filter((t) => t != null).sort();
      const first = stamps.length ? stamps[0]! : dateNow;
      const last = stamps.length ? stamps[stamps.length - 1]! : dateNow;
      const firstTimestamp = int64(first);
      const maxTimestamp = int64(last);
      if (firstTimestamp === null || maxTimestamp === null || int64(firstSequence) === null) return null;
      const records: RecordPlan[] = [];
      let recordBytes = 0;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i];
        if (m.timestamp != null && int64(m.timestamp) === null) return null;
        const r = planRecord(m, i, Number(m.timestamp || dateNow) - Number(first));
        if (!r) return null;
        records.push(r);
        recordBytes += r.size;
      }
      const partitionSize = 4 + 4 + BATCH_HEAD + recordBytes;
      plans.push({ partition, records, firstTimestamp, maxTimestamp, firstSequence, size: partitionSize });
      size += partitionSize;
    }
    topics.push({ topic, topicLength, partitions: plans });
  }

  const buf = Buffer.allocUnsafe(size);
  let at = buf.writeInt16BE(transactionalId == null ? -1 : transactional, 0);
  if (transactionalId != null) at += buf.write(transactionalId, at, transactional, 'utf8');
  at = buf.writeInt16BE(acks, at);
  at = buf.writeInt32BE(timeout, at);
  at = buf.writeInt32BE(topics.length, at);
  for (const t of topics) {
    at = buf.writeInt16BE(t.topicLength, at);
    at += buf.write(t.topic, at, t.topicLength, 'utf8');
    at = buf.writeInt32BE(t.partitions.length, at);
    for (const p of t.partitions) {
      const batchLength = p.size - 4 - 4 - 8 - 4; // after firstOffset and its own length field
      at = buf.writeInt32BE(p.partition, at);
      at = buf.writeInt32BE(p.size - 8, at); // the record set: firstOffset, length, batch
      at = buf.writeBigInt64BE(0n, at); // firstOffset
      at = buf.writeInt32BE(batchLength, at);
      at = buf.writeInt32BE(0, at); // partitionLeaderEpoch
      at = buf.writeInt8(2, at); // magic
      const crcAt = at;
      at += 4;
      const crcFrom = at;
      at = buf.writeInt16BE(transactionalId ? 16 : 0, at); // attributes: no compression, create time, transactional
      at = buf.writeInt32BE(p.records.length - 1, at); // lastOffsetDelta
      at = buf.writeBigInt64BE(p.firstTimestamp, at);
      at = buf.writeBigInt64BE(p.maxTimestamp, at);
      at = buf.writeBigInt64BE(producerId, at);
      at = buf.writeInt16BE(producerEpoch, at);
      at = buf.writeInt32BE(p.firstSequence, at);
      at = buf.writeInt32BE(p.records.length, at);
      for (const r of p.records) at = writeRecord(buf, at, r);
      buf.writeUInt32BE(k.crc32C(buf.subarray(crcFrom, at)), crcAt);
    }
  }
  if (at !== size) throw new Error(`produce encoder wrote ${at} of ${size} bytes`);
  // an Encoder without its constructor's buffer: kafkajs reads only `buf` and `offset` from it
  return Object.assign(Object.create(k.encoderPrototype) as Encoded, { buf, offset: size });
}

type Build = (args: ProduceArgs) => { request: { encode: () => Promise<unknown> } };
interface ProduceDefinition {
  protocol: (o: { version: number }) => Build | undefined;
}

/** Routes kafkajs's produce requests (v3 to v7) through `encodeProduceRequest`, once per process. */
export const fixKafkaProduceEncoder = kafkajsFix(() => {
  const Produce = kafkajsModule<{ requests: { Produce?: ProduceDefinition } }>('./src/protocol/requests/index.js').requests.Produce;
  if (typeof Produce?.protocol !== 'function') return false;
  const k = kafkajs();
  const original = Produce.protocol;
  Produce.protocol = ({ version }) => {
    const build = original({ version });
    if (!build || version < 3 || version > 7) return build;
    return (args) => {
      const built = build(args);
      const theirs = built.request.encode;
      built.request.encode = async () => encodeProduceRequest(k, args) ?? theirs();
      return built;
    };
  };
  return true;
});
