import type { User } from '../../domain/user';

export interface StoredUser extends User {
  passwordHash: string;
}

export abstract class UserRepository {
  abstract findByUsername(username: string): Promise<StoredUser | null>;
  abstract insert(user: StoredUser): Promise<void>;
  abstract count(): Promise<number>;
  abstract list(): Promise<User[]>;
}

export abstract class PasswordHasher {
  abstract hash(secret: string): Promise<string>;
  abstract verify(secret: string, hash: string): Promise<boolean>;
}

export abstract class TokenIssuer {
  abstract issue(user: User): Promise<string>;
}
