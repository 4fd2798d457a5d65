import { Module } from '@nestjs/common';
import { DevicesModule } from '@linan/devices';
import { BrokerHost } from './broker-host.service';

/** Device ingress: the MQTT broker, device authentication and ACL, validation, dedup, and durable publishing. */
@Module({
  imports: [DevicesModule],
  providers: [BrokerHost],
  exports: [BrokerHost],
})
export class GatewayModule {}
