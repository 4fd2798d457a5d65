/**
 * `npm run bench:kafka-encoder`: CPU per record to encode a produce request of the platform's messages, kafkajs's own
 * encoder against the one the Kafka bus installs (kafkajs-produce-encoder.ts), for requests of 1, 2, 5 and 20
 * records. Each encoder runs in a child process of its own, so the installed one cannot touch the other's kafkajs.
 * Both produce the same bytes (kafkajs-produce-encoder.spec); this measures only what that costs.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Topics } from '@linan/contracts';
import { envelope } from '@linan/platform';
import { kafkajsModule } from '../libs/platform/src/messaging/kafkajs-internals';
import { fixKafkaProduceEncoder } from '../libs/platform/src/messaging/kafkajs-produce-encoder';

const SIZES = [1, 2, 5, 20];
const ROUNDS = 4000;

/** A device event as the gateway publishes it (its envelope and headers). */
function message() {
  const now = Date.now();
  return envelope(Topics.deviceEvents, randomUUID(), {
    deviceId: randomUUID(), serial: 'SOS-000123', householdId: randomUUID(), deviceEventId: randomUUID(), type: 'sos', state: 'alarm',
    receivedAt: now, deviceTs: now - 3.2, late: false, battery: 90, signal: -61, data: {},
  }, { correlationId: 'SOS-000123:1' });
}

type Request = { encode(): Promise<{ buffer: Buffer }> };
type Protocol = { protocol(o: { version: number }): (a: unknown) => { request: Request } };

async function measure(): Promise<Record<number, number>> {
  const Produce = kafkajsModule<{ requests: { Produce: Protocol } }>('./src/protocol/requests/index.js').requests.Produce;
  const out: Record<number, number> = {};
  const runners = SIZES.map((n) => {
    const messages = Array.from({ length: n }, message);
    return async (rounds: number) => {
      const t0 = process.cpuUsage();
      for (let i = 0; i < rounds; i++) {
        const { request } = Produce.protocol({ version: 7 })({ acks: -1, timeout: 30_000, topicData: [{ topic: Topics.deviceEvents, partitions: [{ partition: 0, messages }] }] });
        if (!(await request.encode()).buffer.length) throw new Error('nothing encoded');
      }
      const used = process.cpuUsage(t0);
      return (used.user + used.system) / rounds / n;
    };
  });
  for (const run of runners) await run(ROUNDS / 2); // warm-up (JIT) of every size before any is measured
  for (const [i, run] of runners.entries()) out[SIZES[i]] = await run(ROUNDS);
  return out;
}

async function main(): Promise<void> {
  const which = process.argv[2];
  if (which === 'kafkajs' || which === 'installed') {
    if (which === 'installed' && fixKafkaProduceEncoder().outcome !== 'fixed') throw new Error('the encoder could not be installed');
    process.stdout.write(JSON.stringify(await measure()));
    return;
  }
  const results = Object.fromEntries(['kafkajs', 'installed'].map((w) => [w, JSON.parse(execFileSync(process.execPath, [__filename, w], { encoding: 'utf8' })) as Record<number, number>]));
  console.log(`produce request encoding, CPU µs per record (node ${process.version}, ${ROUNDS} requests per size)`);
  console.log('records per request   kafkajs   installed');
  for (const n of SIZES) console.log(`${String(n).padStart(19)}   ${results.kafkajs[n].toFixed(1).padStart(7)}   ${results.installed[n].toFixed(1).padStart(9)}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
