import 'reflect-metadata';
import { ConfigError, readEnvironment } from '@linan/platform';
import { PortInUseError } from '../../gateway/src/embedded-broker';
import { startEmbedded } from './embedded';

async function main(): Promise<void> {
  const p = await startEmbedded(readEnvironment());
  const lines = [
    '',
    '  邻安 Lin\'an is running (embedded mode: one process, embedded broker, database and bus)',
    '',
    `  Console       ${p.httpUrl}/`,
    `  API docs      ${p.httpUrl}/api/docs`,
    `  Health        ${p.httpUrl}/health      Metrics ${p.httpUrl}/metrics`,
    p.config.apps.includes('gateway') ? `  MQTT broker   ${p.mqttUrl}` : '  MQTT broker   (gateway not in APPS)',
    `  Apps          ${p.config.apps.join(', ')}`,
    `  Data folder   ${p.config.dataDir === 'memory://' ? '(in memory)' : p.config.dataDir}`,
    `  Admin user    ${p.admin.username}`,
    p.admin.generatedPassword
      ? `  Admin password ${p.admin.generatedPassword}   (generated now and shown only once; set ADMIN_PASSWORD to choose one)`
      : p.admin.created ? '  Admin password from ADMIN_PASSWORD' : '  Admin password unchanged (set at first start)',
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof PortInUseError) {
    process.stderr.write(`\n${err.message}\n\n`);
  } else {
    process.stderr.write(`\nfailed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  }
  process.exit(1);
});
