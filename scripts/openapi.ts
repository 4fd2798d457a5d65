/**
 * `node dist/scripts/openapi.js <file>` — writes the OpenAPI document of the whole HTTP API (every app's routes, as the
 * embedded platform serves them and the edge routes them in distributed mode) to <file>, without starting anything.
 * The build writes dist/openapi.json, which the console serves at /api/docs; `npm run openapi` refreshes the copy in
 * docs/ that test/openapi.spec.ts holds to the code.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { describeApi } from '@linan/runtime';
import { EMBEDDED_SPEC } from '../apps/embedded/src/embedded-app.module';

/** The document as stored: two-space JSON and a final newline, so a change reads as a small diff. */
export const documentText = (document: unknown): string => `${JSON.stringify(document, null, 2)}\n`;

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/scripts/openapi.js <file>\n');
    process.exit(2);
  }
  // the preview application holds nothing open: the process ends by itself once the file is written
  writeFileSync(file, documentText(await describeApi(EMBEDDED_SPEC)));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`cannot write the OpenAPI document: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  });
}
