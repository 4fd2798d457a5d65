import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { ConsoleModule, CONSOLE_PUBLIC_DIR } from './console.module';

runMain({ name: 'console', modules: () => [ConsoleModule], staticDir: CONSOLE_PUBLIC_DIR, websockets: true });
