import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { TriageModule } from './triage.module';

runMain({ name: 'triage', modules: () => [TriageModule] });
