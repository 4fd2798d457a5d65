import { Injectable } from '@nestjs/common';
import { DomainError } from '@linan/platform';
import { PasswordHasher, TokenIssuer, UserRepository } from './ports/user.repository';

@Injectable()
export class LoginUseCase {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenIssuer,
  ) {}

  async execute(input: { username: string; password: string }): Promise<{ accessToken: string; role: string; displayName: string }> {
    const user = await this.users.findByUsername(input.username);
    const ok = user !== null && (await this.hasher.verify(input.password, user.passwordHash));
    if (!user || !ok) throw new DomainError('AUTH.BAD_CREDENTIALS', 'unauthorized', 'wrong username or password');
    return { accessToken: await this.tokens.issue(user), role: user.role, displayName: user.displayName };
  }
}
