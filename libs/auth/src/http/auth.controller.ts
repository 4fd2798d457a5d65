import { Body, Controller, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { ApiBearerAuth, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import { CreateUserUseCase } from '../application/create-user.use-case';
import { LoginUseCase } from '../application/login.use-case';
import { UserRepository } from '../application/ports/user.repository';
import { ROLES, type Actor, type Role, type User } from '../domain/user';
import { Public } from '@linan/platform';
import { CurrentActor, Roles } from './auth.decorators';

export class LoginDto {
  @ApiProperty({ example: 'admin' }) @IsString() @Length(1, 64) username!: string;
  @ApiProperty() @IsString() @Length(1, 256) password!: string;
}

export class CreateUserDto {
  @ApiProperty({ example: 'op-siming-1' }) @Matches(/^[A-Za-z0-9._-]{3,32}$/, { message: 'username must be 3–32 characters of A-Z a-z 0-9 . _ -' })
  username!: string;
  @ApiProperty({ example: '值班员小陈' }) @IsString() @Length(1, 64) displayName!: string;
  @ApiProperty() @IsString() @Length(8, 256) password!: string;
  @ApiProperty({ enum: ROLES }) @IsIn(ROLES) role!: Role;
  @ApiPropertyOptional({ description: 'limit the user to one district; omit for all' })
  @IsOptional() @IsString() @Length(1, 64) district?: string;
}

@ApiTags('auth')
@Controller('api/v1')
export class AuthController {
  constructor(private readonly login: LoginUseCase, private readonly createUser: CreateUserUseCase, private readonly users: UserRepository) {}

  @Public()
  @UseGuards(ThrottlerGuard)
  @Post('auth/login')
  @HttpCode(200)
  signIn(@Body() dto: LoginDto) {
    return this.login.execute(dto);
  }

  @ApiBearerAuth()
  @Get('auth/me')
  me(@CurrentActor() actor: Actor): Actor {
    return actor;
  }

  @ApiBearerAuth()
  @Roles('admin')
  @Post('users')
  create(@Body() dto: CreateUserDto): Promise<User> {
    return this.createUser.execute({ ...dto, district: dto.district ?? null });
  }

  @ApiBearerAuth()
  @Roles('admin')
  @Get('users')
  async list(): Promise<{ items: User[] }> {
    return { items: await this.users.list() };
  }
}
