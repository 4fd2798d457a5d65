import type { Type } from '@nestjs/common';
import type { AppName } from '@linan/platform';
import type { AppSpec } from '@linan/runtime';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { TriageModule } from '../../triage/src/triage.module';
import { DispatchAppModule } from '../../dispatch/src/dispatch-app.module';
import { ProvisioningModule } from '../../provisioning/src/provisioning.module';
import { ConsoleModule, CONSOLE_PUBLIC_DIR } from '../../console/src/console.module';

const APP_MODULES: Record<AppName, Type<unknown>> = {
  gateway: GatewayModule, triage: TriageModule, dispatch: DispatchAppModule, provisioning: ProvisioningModule, console: ConsoleModule,
};

/** Embedded mode: the apps named in APPS (all by default) composed in one process — the composition root. */
export const EMBEDDED_SPEC: AppSpec = {
  name: 'embedded',
  modules: (config) => config.apps.map((name) => APP_MODULES[name]),
  staticDir: CONSOLE_PUBLIC_DIR,
  websockets: true,
};
