import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Role } from '../domain/user';
import { JwtTokenIssuer } from '../adapters/jwt.token-issuer';
import { PUBLIC_KEY } from '@linan/platform';
import { AuthedRequest, ROLES_KEY } from './auth.decorators';
import { AuditTrail } from './audit-trail';

/** Global guard: a valid bearer token on every route not marked @Public (401), and the route's roles (403). */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(private readonly reflector: Reflector, private readonly tokens: JwtTokenIssuer, private readonly audit: AuditTrail) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const actor = token ? await this.tokens.verify(token) : null;
    if (!actor) {
      if (AuditTrail.isAction(req)) await this.audit.record(req, 401);
      throw new UnauthorizedException({ statusCode: 401, code: 'AUTH.TOKEN_REQUIRED', message: 'a valid bearer token is required' });
    }
    req.actor = actor;
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (roles && actor.role !== 'admin' && !roles.includes(actor.role)) {
      if (AuditTrail.isAction(req)) await this.audit.record(req, 403);
      throw new ForbiddenException({ statusCode: 403, code: 'AUTH.ROLE_FORBIDDEN', message: `role "${actor.role}" may not do this` });
    }
    return true;
  }
}
