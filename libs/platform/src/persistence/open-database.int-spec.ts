import { StartupError } from '../config/config';
import { postgresAvailable, testPostgresServer } from '../../../testing/src/services/postgres';
import { openTestDatabase } from '../../../testing/src/test-platform';

const available = postgresAvailable();

/** What the apps say at start when PostgreSQL answers but will not let them in (run on this machine's server). */
describe('openDatabase at start (PostgreSQL)', () => {
  beforeAll(async () => {
    if (!(await available)) throw new Error('PostgreSQL at 127.0.0.1:5432 (or TEST_POSTGRES_URL) is needed for these tests');
  });

  const withDatabase = (name: string, user?: string) => {
    const u = new URL(testPostgresServer());
    u.pathname = `/${name}`;
    if (user) u.username = user;
    return u.toString();
  };
  const failureOf = async (url: string) => openTestDatabase({ DATABASE_URL: url }).then(() => null, (e: unknown) => e as Error);

  it('a database that does not exist: refused, named, and what to do', async () => {
    const err = await failureOf(withDatabase(`linan_missing_${process.pid}`));
    expect(err).toBeInstanceOf(StartupError);
    expect(err!.message).toMatch(new RegExp(`^PostgreSQL at .* \\(DATABASE_URL\\) refused the connection: database "linan_missing_${process.pid}" does not exist\\. Create the role and the database first`));
  });

  it('a role that does not exist: refused, named', async () => {
    const err = await failureOf(withDatabase('postgres', `nobody_${process.pid}`));
    expect(err!.message).toMatch(new RegExp(`refused the connection: .*"nobody_${process.pid}"`));
  });

  it('a server that does not answer: cannot reach', async () => {
    const err = await failureOf('postgres://postgres@127.0.0.1:1/linan');
    expect(err!.message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:1\/linan \(DATABASE_URL\): .*ECONNREFUSED/);
  });
});
