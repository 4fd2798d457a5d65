import { Injectable } from '@nestjs/common';
import { Database, selectList } from '@linan/platform';
import type { Aide, Funding, Household, SubsidyCategory } from '../domain/household';
import { AideRepository, HouseholdRepository } from '../application/ports/people.repository';
import { AideOrmEntity, HouseholdOrmEntity } from './people.orm-entity';

const toHousehold = (e: HouseholdOrmEntity): Household => ({
  ...e, subsidyCategory: e.subsidyCategory as SubsidyCategory, funding: e.funding as Funding, createdAt: new Date(e.createdAt),
});

@Injectable()
export class TypeOrmHouseholdRepository extends HouseholdRepository {
  private columns?: string;

  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(HouseholdOrmEntity);
  }
  async insert(h: Household): Promise<void> {
    await this.repo().insert({ ...h, contacts: h.contacts as never });
  }
  async findById(id: string): Promise<Household | null> {
    const e = await this.repo().findOneBy({ id });
    return e ? toHousehold(e) : null;
  }
  /** On every alarm's path (triage, dispatch): a plain statement, a fraction of the CPU of TypeORM's `findBy`. */
  async findByIds(ids: string[]): Promise<Household[]> {
    if (!ids.length) return [];
    this.columns ??= selectList(this.db.dataSource.getMetadata(HouseholdOrmEntity));
    const rows = await this.db.query<HouseholdOrmEntity>(`SELECT ${this.columns} FROM households WHERE id = ANY($1::uuid[])`, [ids]);
    return rows.map(toHousehold);
  }
  async search(filter: { district?: string; q?: string; limit: number }): Promise<Household[]> {
    const qb = this.repo().createQueryBuilder('h').orderBy('h.created_at', 'DESC').limit(filter.limit);
    if (filter.district) qb.andWhere('h.district = :district', { district: filter.district });
    if (filter.q) qb.andWhere('(h.name LIKE :q OR h.address LIKE :q OR h.phone LIKE :q)', { q: `%${filter.q}%` });
    return (await qb.getMany()).map(toHousehold);
  }
}

@Injectable()
export class TypeOrmAideRepository extends AideRepository {
  private columns?: string;

  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(AideOrmEntity);
  }
  async insert(a: Aide): Promise<void> {
    await this.repo().insert(a);
  }
  findById(id: string): Promise<Aide | null> {
    return this.repo().findOneBy({ id });
  }
  async setOnDuty(id: string, onDuty: boolean): Promise<void> {
    await this.repo().update({ id }, { onDuty });
  }
  list(filter: { district?: string }): Promise<Aide[]> {
    return this.repo().find({ where: filter.district ? { district: filter.district } : {}, order: { createdAt: 'ASC' } });
  }
  /** On every alarm's path (dispatch): a plain statement, a fraction of the CPU of TypeORM's `find`. */
  async onDutyInDistricts(districts: string[]): Promise<Aide[]> {
    if (!districts.length) return [];
    this.columns ??= selectList(this.db.dataSource.getMetadata(AideOrmEntity));
    const rows = await this.db.query<Aide>(
      `SELECT ${this.columns} FROM aides WHERE on_duty AND district = ANY($1::text[]) ORDER BY created_at`, [districts]);
    return rows.map((a) => ({ ...a, createdAt: new Date(a.createdAt) }));
  }
}
