import 'reflect-metadata';
import { runMain } from '@linan/runtime';
import { ProvisioningModule } from './provisioning.module';

runMain({ name: 'provisioning', modules: () => [ProvisioningModule] });
