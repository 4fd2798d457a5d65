import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { conflict } from '@linan/platform';
import type { Role, User } from '../domain/user';
import { PasswordHasher, UserRepository } from './ports/user.repository';

export interface CreateUserInput {
  username: string;
  displayName: string;
  password: string;
  role: Role;
  district: string | null;
}

@Injectable()
export class CreateUserUseCase {
  constructor(private readonly users: UserRepository, private readonly hasher: PasswordHasher) {}

  async execute(input: CreateUserInput): Promise<User> {
    if (await this.users.findByUsername(input.username)) {
      throw conflict('USER.DUPLICATE_USERNAME', `username "${input.username}" is taken`, { field: 'username' });
    }
    const user = { id: randomUUID(), username: input.username, displayName: input.displayName, role: input.role, district: input.district };
    await this.users.insert({ ...user, passwordHash: await this.hasher.hash(input.password) });
    return user;
  }
}
