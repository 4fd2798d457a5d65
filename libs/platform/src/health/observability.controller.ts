import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Metrics } from '../metrics/metrics';
import { Public } from '../http/public.decorator';
import { HealthRegistry } from './health-registry';

@ApiExcludeController()
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly registry: HealthRegistry,
    private readonly metrics: Metrics,
  ) {}

  /** 200 {"status":"ok", ...} when every part answers; 503 with the failing parts otherwise. */
  @Public()
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check(this.registry.entries().map(([name, probe]) => async () => {
      const s = this.indicators.check(name);
      try {
        const r = await probe();
        return r.up ? s.up(r.detail) : s.down(r.detail ?? {});
      } catch (err) {
        return s.down({ message: (err as Error).message });
      }
    }));
  }

  @Public()
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
