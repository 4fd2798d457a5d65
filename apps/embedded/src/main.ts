import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { EMBEDDED_SPEC } from './embedded-app.module';

runMain(EMBEDDED_SPEC);
