import 'reflect-metadata';
import { BUILT_API_DOCUMENT, runMain } from '@linan/runtime';
import { ConsoleModule, CONSOLE_PUBLIC_DIR } from './console.module';

// the edge sends /api/docs here: the console serves the whole API's document, which the build writes
runMain({ name: 'console', modules: () => [ConsoleModule], staticDir: CONSOLE_PUBLIC_DIR, websockets: true, apiDocument: BUILT_API_DOCUMENT });
