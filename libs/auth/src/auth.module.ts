import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ThrottlerModule, type ThrottlerStorage } from '@nestjs/throttler';
import { AppConfig, Database, RATE_LIMIT_STORAGE } from '@linan/platform';
import { CreateUserUseCase } from './application/create-user.use-case';
import { EnsureAdminUseCase } from './application/ensure-admin.use-case';
import { LoginUseCase } from './application/login.use-case';
import { PasswordHasher, TokenIssuer, UserRepository } from './application/ports/user.repository';
import { resolveJwtSecret } from './adapters/jwt-secret';
import { JwtTokenIssuer } from './adapters/jwt.token-issuer';
import { ScryptPasswordHasher } from './adapters/scrypt.password-hasher';
import { TypeOrmUserRepository } from './adapters/typeorm.user.repository';
import { AuditInterceptor } from './http/audit.interceptor';
import { AuditTrail } from './http/audit-trail';
import { AuthController } from './http/auth.controller';
import { AuthGuard } from './http/auth.guard';

/** Users, login, the global token and role guard, and the audit trail of every action. */
@Module({
  imports: [
    // password guessing: LOGIN_ATTEMPTS_PER_MINUTE login attempts per client address and minute (the login route only),
    // counted across every replica in distributed mode (the platform's rate-limit storage is in Redis there)
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, RATE_LIMIT_STORAGE],
      useFactory: (config: AppConfig, storage: ThrottlerStorage) => ({ throttlers: [{ ttl: 60_000, limit: config.jwt.loginAttemptsPerMinute }], storage }),
    }),
    JwtModule.registerAsync({
      inject: [AppConfig, Database],
      useFactory: async (config: AppConfig, db: Database) => ({
        secret: await resolveJwtSecret(config.jwt.secret, db),
        signOptions: { expiresIn: config.jwt.ttlSeconds },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    { provide: UserRepository, useClass: TypeOrmUserRepository },
    { provide: PasswordHasher, useValue: new ScryptPasswordHasher() },
    JwtTokenIssuer,
    { provide: TokenIssuer, useExisting: JwtTokenIssuer },
    LoginUseCase,
    CreateUserUseCase,
    EnsureAdminUseCase,
    AuditTrail,
    { provide: APP_GUARD, useClass: AuthGuard },
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
  exports: [EnsureAdminUseCase, JwtTokenIssuer, PasswordHasher],
})
export class AuthModule {}
