import { Controller, Get, NotFoundException } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '@linan/auth';
import { FakeSmsSender, SmsSender } from '@linan/dispatch';
import { DomainError, maskPhone } from '@linan/platform';

/**
 * What the fake SMS provider "sent": for embedded mode, demos and test deployments (404 with a real provider). Served
 * by dispatch, the process that sends; in distributed mode every replica lists what all of them sent (Redis).
 */
@ApiTags('embedded')
@ApiBearerAuth()
@Controller('api/v1/embedded/sms')
export class DevSmsController {
  constructor(private readonly sms: SmsSender) {}

  @Roles('operator')
  @Get()
  async list() {
    if (!(this.sms instanceof FakeSmsSender)) throw new NotFoundException('only the fake SMS provider keeps sent messages');
    const sent = await this.sms.recent().catch((err: unknown) => {
      throw new DomainError('SMS.LIST_UNAVAILABLE', 'unavailable', 'the list of sent messages is kept in Redis, which does not answer', undefined, { cause: err });
    });
    return { items: sent.map((m) => ({ ...m, to: maskPhone(m.to), at: new Date(m.at).toISOString() })) };
  }
}
