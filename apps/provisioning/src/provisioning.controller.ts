import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentActor, Roles, type Actor } from '@linan/auth';
import { UuidParam } from '@linan/platform';
import { AideRepository, CreateAideUseCase, CreateHouseholdUseCase, GetHouseholdUseCase, HouseholdRepository, SetAideDutyUseCase } from '@linan/people';
import {
  DecommissionDeviceUseCase, DeviceRepository, InstallDeviceUseCase, RegisterDeviceUseCase, RotateDeviceSecretUseCase, DevicePresence, type Device,
} from '@linan/devices';
import { CreateAideDto, CreateHouseholdDto, DutyDto, InstallDeviceDto, RegisterDeviceDto } from './provisioning.dto';

/** A device as the API shows it: a DC-09 AES key is never sent back. */
function publicDevice(d: Device) {
  const { aesKey, ...attributes } = d.attributes;
  return { ...d, attributes: aesKey ? { ...attributes, aesKey: '***' } : attributes };
}

@ApiTags('households')
@ApiBearerAuth()
@Controller('api/v1/households')
export class HouseholdsController {
  constructor(
    private readonly create: CreateHouseholdUseCase,
    private readonly get: GetHouseholdUseCase,
    private readonly households: HouseholdRepository,
    private readonly devices: DeviceRepository,
    private readonly presence: DevicePresence,
  ) {}

  @Roles('operator', 'installer')
  @Post()
  add(@CurrentActor() actor: Actor, @Body() dto: CreateHouseholdDto) {
    return this.create.execute(actor, dto);
  }

  @Roles('operator', 'installer')
  @Get()
  async search(@CurrentActor() actor: Actor, @Query('q') q?: string) {
    return { items: await this.households.search({ district: actor.district ?? undefined, q: q?.slice(0, 64), limit: 50 }) };
  }

  @Roles('operator', 'installer')
  @Get(':id')
  async one(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    const devices = await this.devices.listByHousehold(id);
    const presence = await this.presence.of(devices.map((d) => d.serial));
    return {
      ...(await this.get.execute(actor, id)),
      devices: devices.map((d) => {
        const p = presence.get(d.serial);
        return { ...publicDevice(d), online: p?.online ?? false, lastSeenAt: p ? new Date(p.lastSeenAt).toISOString() : null };
      }),
    };
  }
}

@ApiTags('devices')
@ApiBearerAuth()
@Controller('api/v1/devices')
export class DevicesController {
  constructor(
    private readonly register: RegisterDeviceUseCase,
    private readonly install: InstallDeviceUseCase,
    private readonly decommission: DecommissionDeviceUseCase,
    private readonly rotate: RotateDeviceSecretUseCase,
  ) {}

  /** The MQTT password is in this response only. */
  @Roles('installer')
  @Post()
  async add(@Body() dto: RegisterDeviceDto) {
    const { device, mqtt } = await this.register.execute(dto);
    return { ...publicDevice(device), mqtt };
  }

  @Roles('installer')
  @Post(':id/install')
  @HttpCode(200)
  async bind(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: InstallDeviceDto) {
    return publicDevice(await this.install.execute(actor, id, dto.householdId));
  }

  @Roles('installer')
  @Post(':id/decommission')
  @HttpCode(200)
  async retire(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return publicDevice(await this.decommission.execute(actor, id));
  }

  @Roles('installer')
  @Post(':id/rotate-secret')
  @HttpCode(200)
  async rotateSecret(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string) {
    return { id, mqtt: await this.rotate.execute(actor, id) };
  }
}

@ApiTags('aides')
@ApiBearerAuth()
@Controller('api/v1/aides')
export class AidesController {
  constructor(private readonly create: CreateAideUseCase, private readonly duty: SetAideDutyUseCase, private readonly aides: AideRepository) {}

  @Roles('operator')
  @Post()
  add(@CurrentActor() actor: Actor, @Body() dto: CreateAideDto) {
    return this.create.execute(actor, dto);
  }

  @Roles('operator')
  @Get()
  async list(@CurrentActor() actor: Actor) {
    return { items: await this.aides.list({ district: actor.district ?? undefined }) };
  }

  @Roles('operator', 'aide')
  @Post(':id/duty')
  @HttpCode(200)
  setDuty(@CurrentActor() actor: Actor, @Param('id', UuidParam) id: string, @Body() dto: DutyDto) {
    return this.duty.execute(actor, id, dto.onDuty);
  }
}
