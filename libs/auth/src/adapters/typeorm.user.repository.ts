import { Injectable } from '@nestjs/common';
import { Database } from '@linan/platform';
import type { Role, User } from '../domain/user';
import { StoredUser, UserRepository } from '../application/ports/user.repository';
import { UserOrmEntity } from './user.orm-entity';

const toUser = (e: UserOrmEntity): StoredUser => ({
  id: e.id, username: e.username, displayName: e.displayName, role: e.role as Role, district: e.district, passwordHash: e.passwordHash,
});

@Injectable()
export class TypeOrmUserRepository extends UserRepository {
  constructor(private readonly db: Database) {
    super();
  }
  private repo() {
    return this.db.manager().getRepository(UserOrmEntity);
  }
  async findByUsername(username: string): Promise<StoredUser | null> {
    const e = await this.repo().findOneBy({ username });
    return e ? toUser(e) : null;
  }
  async insert(u: StoredUser): Promise<void> {
    await this.repo().insert({ ...u });
  }
  count(): Promise<number> {
    return this.repo().count();
  }
  async list(): Promise<User[]> {
    return (await this.repo().find({ order: { createdAt: 'ASC' } })).map((e) => {
      const { passwordHash: _secret, ...user } = toUser(e);
      return user;
    });
  }
}
