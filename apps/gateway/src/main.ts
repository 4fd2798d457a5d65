import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { GatewayModule } from './gateway.module';

runMain({ name: 'gateway', modules: () => [GatewayModule] });
