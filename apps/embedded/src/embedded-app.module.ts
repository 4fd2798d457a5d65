import { DynamicModule, Module, type Type } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { PlatformModule, type AppName, type PlatformOptions } from '@linan/platform';
import { AUTH_ENTITIES, AuthModule } from '@linan/auth';
import { PEOPLE_ENTITIES } from '@linan/people';
import { DEVICES_ENTITIES } from '@linan/devices';
import { ALERTING_ENTITIES } from '@linan/alerting';
import { DISPATCH_ENTITIES } from '@linan/dispatch';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { TriageModule } from '../../triage/src/triage.module';
import { DispatchAppModule } from '../../dispatch/src/dispatch-app.module';
import { ProvisioningModule } from '../../provisioning/src/provisioning.module';
import { ConsoleModule } from '../../console/src/console.module';

const APP_MODULES: Record<AppName, Type<unknown>> = {
  gateway: GatewayModule, triage: TriageModule, dispatch: DispatchAppModule, provisioning: ProvisioningModule, console: ConsoleModule,
};

export const ALL_ENTITIES = [...AUTH_ENTITIES, ...PEOPLE_ENTITIES, ...DEVICES_ENTITIES, ...ALERTING_ENTITIES, ...DISPATCH_ENTITIES];

/** The apps of the platform (all, or those named in APPS) in one process: the composition root of embedded mode. */
@Module({})
export class EmbeddedAppModule {
  static register(options: Omit<PlatformOptions, 'entities'>): DynamicModule {
    return {
      module: EmbeddedAppModule,
      imports: [
        PlatformModule.forRoot({ ...options, entities: ALL_ENTITIES }),
        // the framework's own start-up chatter stays out of the way; its warnings and errors still reach the log
        LoggerModule.forRoot({ pinoHttp: { logger: options.logger.child({ component: 'nest' }, { level: 'warn' }), autoLogging: false, quietReqLogger: true } }),
        AuthModule,
        ...options.config.apps.map((name) => APP_MODULES[name]),
      ],
    };
  }
}
