import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { Actor, Role, User } from '../domain/user';
import { TokenIssuer } from '../application/ports/user.repository';

interface Claims {
  sub: string;
  username: string;
  role: Role;
  district: string | null;
}

@Injectable()
export class JwtTokenIssuer extends TokenIssuer {
  constructor(private readonly jwt: JwtService) {
    super();
  }

  issue(user: User): Promise<string> {
    const claims: Claims = { sub: user.id, username: user.username, role: user.role, district: user.district };
    return this.jwt.signAsync(claims);
  }

  /** Null for a missing, forged or expired token. */
  async verify(token: string): Promise<Actor | null> {
    try {
      const c = await this.jwt.verifyAsync<Claims>(token);
      return { id: c.sub, username: c.username, role: c.role, district: c.district };
    } catch {
      return null;
    }
  }
}
