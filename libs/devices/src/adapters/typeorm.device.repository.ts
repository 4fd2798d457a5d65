import { Injectable } from '@nestjs/common';
import { Database, selectList } from '@linan/platform';
import type { Device, DeviceKind, DeviceProtocol, DeviceStatus } from '../domain/device';
import { DeviceRepository, DeviceWithSecret } from '../application/ports/device.repository';
import { DeviceOrmEntity } from './device.orm-entity';

const toDevice = (e: DeviceOrmEntity): DeviceWithSecret => ({
  id: e.id, serial: e.serial, type: e.type as DeviceKind, model: e.model, protocol: e.protocol as DeviceProtocol, attributes: e.attributes ?? {},
  status: e.status as DeviceStatus, householdId: e.householdId, registeredAt: e.registeredAt, installedAt: e.installedAt,
  decommissionedAt: e.decommissionedAt, secretHash: e.secretHash,
});

@Injectable()
export class TypeOrmDeviceRepository extends DeviceRepository {
  private columns?: string;

  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(DeviceOrmEntity);
  }
  async insert(d: DeviceWithSecret): Promise<void> {
    await this.repo().insert({ ...d, attributes: d.attributes as never, lastSeenAt: null });
  }
  async findById(id: string): Promise<Device | null> {
    const e = await this.repo().findOneBy({ id });
    if (!e) return null;
    const { secretHash: _s, ...d } = toDevice(e);
    return d;
  }
  async findBySerial(serial: string): Promise<DeviceWithSecret | null> {
    return (await this.findBySerials([serial]))[0] ?? null;
  }

  /**
   * The gateway's lookup for device messages it does not remember (DeviceLookup): one plain statement for all the
   * messages its sessions took at the same moment, which costs a fraction of the CPU of TypeORM's `findOneBy` per
   * message (docs/performance.md).
   */
  async findBySerials(serials: readonly string[]): Promise<DeviceWithSecret[]> {
    if (!serials.length) return [];
    this.columns ??= selectList(this.db.dataSource.getMetadata(DeviceOrmEntity), ['lastSeenAt']);
    const rows = await this.db.query<DeviceOrmEntity>(`SELECT ${this.columns} FROM devices WHERE serial = ANY($1::text[])`, [[...serials]]);
    return rows.map(toDevice);
  }

  async update(id: string, patch: Partial<DeviceWithSecret>): Promise<void> {
    await this.repo().update({ id }, patch);
  }
  async listSerialsWithCredentials(): Promise<string[]> {
    const rows = await this.repo().createQueryBuilder('d').select('d.serial', 'serial')
      .where('d.secretHash IS NOT NULL').andWhere("d.status <> 'decommissioned'").getRawMany<{ serial: string }>();
    return rows.map((r) => r.serial);
  }
  async listByHousehold(householdId: string): Promise<Device[]> {
    return (await this.repo().findBy({ householdId })).map((e) => {
      const { secretHash: _s, ...d } = toDevice(e);
      return d;
    });
  }
}
