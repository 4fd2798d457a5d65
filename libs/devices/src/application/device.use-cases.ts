import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Clock, UnitOfWork, conflict, notFound } from '@linan/platform';
import { PasswordHasher, type Actor } from '@linan/auth';
import { GetHouseholdUseCase } from '@linan/people';
import type { Device, DeviceAttributes, DeviceKind, DeviceProtocol } from '../domain/device';
import { DeviceRepository, DeviceSessionControl } from './ports/device.repository';
import { DeviceCredentialsDirectory } from './ports/device-credentials-directory';

export interface MqttCredentials {
  clientId: string;
  username: string;
  password: string;
}

const hasMqttCredentials = (protocol: DeviceProtocol, type: DeviceKind) => protocol === 'native' || type === 'hub';
const newSecret = () => randomBytes(18).toString('base64url');

/*
 * Registry and broker in step (distributed mode, where Mosquitto holds the device accounts): each change writes the
 * registry and then the broker inside one transaction, so a broker that is down or refuses rolls the registry back
 * and the call fails with DEVICE.BROKER_UNAVAILABLE (503) having changed nothing. The broker goes last because it
 * cannot be rolled back. What remains is a commit failing after the broker took the change, or a broker answer
 * lost after it applied it; both heal by retrying the same call (every broker change is idempotent), and an
 * account left without a registered device is removed by ReconcileDeviceCredentialsUseCase.
 */

@Injectable()
export class RegisterDeviceUseCase {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly hasher: PasswordHasher,
    private readonly clock: Clock,
    private readonly uow: UnitOfWork,
    private readonly credentials: DeviceCredentialsDirectory,
  ) {}

  /** The secret is returned here once and stored only as a scrypt hash. */
  async execute(input: { serial: string; type: DeviceKind; model?: string; protocol?: DeviceProtocol } & DeviceAttributes): Promise<{ device: Device; mqtt?: MqttCredentials }> {
    const protocol = input.protocol ?? 'native';
    if (await this.devices.findBySerial(input.serial)) {
      throw conflict('DEVICE.DUPLICATE_SERIAL', `a device with serial "${input.serial}" is already registered`, { field: 'serial' });
    }
    const secret = hasMqttCredentials(protocol, input.type) ? newSecret() : null;
    const device: Device = {
      id: randomUUID(), serial: input.serial, type: input.type, model: input.model ?? null, protocol, status: 'registered',
      attributes: { hubId: input.hubId, zigbeeName: input.zigbeeName, account: input.account, aesKey: input.aesKey, imei: input.imei },
      householdId: null, registeredAt: new Date(this.clock.now()), installedAt: null, decommissionedAt: null,
    };
    const secretHash = secret ? await this.hasher.hash(secret) : null;
    await this.uow.run(async () => {
      await this.devices.insert({ ...device, secretHash });
      if (secret) await this.credentials.upsert(device.serial, secret, { enabled: false });
    });
    return { device, mqtt: secret ? { clientId: device.serial, username: device.serial, password: secret } : undefined };
  }
}

@Injectable()
export class InstallDeviceUseCase {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly households: GetHouseholdUseCase,
    private readonly clock: Clock,
    private readonly uow: UnitOfWork,
    private readonly credentials: DeviceCredentialsDirectory,
  ) {}

  async execute(actor: Actor, deviceId: string, householdId: string): Promise<Device> {
    const device = await this.devices.findById(deviceId);
    if (!device) throw notFound('DEVICE.NOT_FOUND', `device ${deviceId} does not exist`);
    if (device.status === 'decommissioned') throw conflict('DEVICE.DECOMMISSIONED', 'a decommissioned device cannot be installed');
    if (device.status === 'active' && device.householdId !== householdId) {
      throw conflict('DEVICE.INSTALLED_ELSEWHERE', 'the device is installed in another household; decommission or move it first');
    }
    await this.households.execute(actor, householdId);
    const installedAt = new Date(this.clock.now());
    await this.uow.run(async () => {
      await this.devices.update(deviceId, { status: 'active', householdId, installedAt });
      if (hasMqttCredentials(device.protocol, device.type)) await this.credentials.enable(device.serial);
    });
    return { ...device, status: 'active', householdId, installedAt };
  }
}

/** A device in a household belongs to that household's district; an unbound one to nobody's in particular. */
async function findInScope(devices: DeviceRepository, households: GetHouseholdUseCase, actor: Actor, deviceId: string): Promise<Device> {
  const device = await devices.findById(deviceId);
  if (!device) throw notFound('DEVICE.NOT_FOUND', `device ${deviceId} does not exist`);
  if (device.householdId) await households.execute(actor, device.householdId);
  return device;
}

@Injectable()
export class DecommissionDeviceUseCase {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly households: GetHouseholdUseCase,
    private readonly sessions: DeviceSessionControl,
    private readonly clock: Clock,
    private readonly uow: UnitOfWork,
    private readonly credentials: DeviceCredentialsDirectory,
  ) {}

  async execute(actor: Actor, deviceId: string): Promise<Device> {
    const device = await findInScope(this.devices, this.households, actor, deviceId);
    if (device.status === 'decommissioned') throw conflict('DEVICE.DECOMMISSIONED', 'the device is already decommissioned');
    const decommissionedAt = new Date(this.clock.now());
    await this.uow.run(async () => {
      await this.devices.update(deviceId, { status: 'decommissioned', decommissionedAt, secretHash: null });
      await this.credentials.revoke(device.serial);
    });
    await this.sessions.disconnect(device.serial, 'decommissioned');
    return { ...device, status: 'decommissioned', decommissionedAt };
  }
}

@Injectable()
export class RotateDeviceSecretUseCase {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly households: GetHouseholdUseCase,
    private readonly hasher: PasswordHasher,
    private readonly sessions: DeviceSessionControl,
    private readonly uow: UnitOfWork,
    private readonly credentials: DeviceCredentialsDirectory,
  ) {}

  async execute(actor: Actor, deviceId: string): Promise<MqttCredentials> {
    const device = await findInScope(this.devices, this.households, actor, deviceId);
    if (device.status === 'decommissioned') throw conflict('DEVICE.DECOMMISSIONED', 'a decommissioned device has no credentials');
    if (!hasMqttCredentials(device.protocol, device.type)) throw conflict('DEVICE.NO_MQTT', 'this device does not connect over MQTT');
    const secret = newSecret();
    const secretHash = await this.hasher.hash(secret);
    await this.uow.run(async () => {
      await this.devices.update(deviceId, { secretHash });
      await this.credentials.upsert(device.serial, secret, { enabled: device.status === 'active' });
    });
    await this.sessions.disconnect(device.serial, 'secret rotated');
    return { clientId: device.serial, username: device.serial, password: secret };
  }
}
