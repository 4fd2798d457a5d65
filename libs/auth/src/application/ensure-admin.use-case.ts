import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { CreateUserUseCase } from './create-user.use-case';
import { UserRepository } from './ports/user.repository';

export interface AdminBootstrap {
  created: boolean;
  username: string;
  /** Set only when it was generated now: shown once, never stored in clear. */
  generatedPassword?: string;
}

/** The first start creates the admin from ADMIN_USERNAME / ADMIN_PASSWORD, generating a password when none is set. */
@Injectable()
export class EnsureAdminUseCase {
  constructor(private readonly users: UserRepository, private readonly createUser: CreateUserUseCase) {}

  async execute(input: { username: string; password?: string }): Promise<AdminBootstrap> {
    if (await this.users.findByUsername(input.username)) return { created: false, username: input.username };
    const generated = input.password ? undefined : randomBytes(12).toString('base64url');
    try {
      await this.createUser.execute({
        username: input.username, displayName: '系统管理员', password: input.password ?? generated!, role: 'admin', district: null,
      });
    } catch (e) {
      // another app process starting on the same database created it first
      if (await this.users.findByUsername(input.username)) return { created: false, username: input.username };
      throw e;
    }
    return { created: true, username: input.username, generatedPassword: generated };
  }
}
