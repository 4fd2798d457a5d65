import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { DispatchAppModule } from './dispatch-app.module';

runMain({ name: 'dispatch', modules: () => [DispatchAppModule] });
