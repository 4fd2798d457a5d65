/**
 * `npm run dlq:replay -- --topic <topic> --group <group> [--dry-run]` — lists a consumer group's dead letters and sends
 * them back to their topic once their cause is fixed (docs/deployment.md, "Dead letters"). Needs KAFKA_BROKERS.
 */
import { parseArgs } from 'node:util';
import { kafkaBrokers, readEnvironment, replayDeadLetters } from '@linan/platform';

const USAGE = 'usage: npm run dlq:replay -- --topic gateway.device-events.v1 --group triage [--dry-run]   (KAFKA_BROKERS must be set)';

async function main(): Promise<void> {
  let values: { topic?: string; group?: string; 'dry-run'?: boolean };
  try {
    ({ values } = parseArgs({ options: { topic: { type: 'string' }, group: { type: 'string' }, 'dry-run': { type: 'boolean' } } }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const raw = readEnvironment().KAFKA_BROKERS?.trim();
  const brokers = raw ? kafkaBrokers(raw) : null;
  const missing = [!values.topic && '--topic', !values.group && '--group', !brokers && 'KAFKA_BROKERS (host:port[,host:port...])'].filter(Boolean);
  if (missing.length) {
    process.stderr.write(`missing or invalid: ${missing.join(', ')}\n${USAGE}\n`);
    process.exit(2);
  }
  const dryRun = values['dry-run'] === true;
  const letters = await replayDeadLetters({ brokers: brokers!, topic: values.topic!, group: values.group!, dryRun });
  for (const l of letters) {
    process.stdout.write(`${l.partition}@${l.offset}  key ${l.key}  event ${l.eventId ?? '-'}  ${l.reason}: ${l.error}  (was ${l.source})\n`);
  }
  process.stdout.write(letters.length
    ? `${letters.length} dead letter${letters.length === 1 ? '' : 's'} ${dryRun ? 'would be sent back' : 'sent back'} to ${values.topic}\n`
    : `no dead letter of ${values.group} on ${values.topic} left to replay\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`dlq:replay failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
