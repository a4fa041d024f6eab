import { chmod, chown, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { freePorts, makeTempDir, removeTempDir, requireCommand, spawnOwned, waitFor, type OwnedProcess } from './redis-cluster.js';

/**
 * A real PgBouncer for tests, in front of the machine's Postgres, on a free 127.0.0.1 port,
 * in transaction pooling mode: the mode production poolers run in, and the one that changes
 * what a client may rely on (a "session" lasts one transaction). The test process owns it.
 *
 * PgBouncer refuses to run as root, so as root it runs as the `postgres` user (spawned with
 * that uid/gid: a direct child, so killing it needs no runuser/setpriv in between); as any
 * other user it runs as that user.
 */

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface PgBouncerOptions {
  /**
   * The Postgres to forward to: its host, port and user are used (the user must be able to log
   * in there without a password, as the local trust-auth Postgres allows). The database name
   * in it is not: every name is forwarded (`* = host=… port=…`), since tests make one per run.
   */
  databaseUrl?: string;
  poolMode?: 'transaction' | 'session' | 'statement';
  /** Server connections per (database, user) pair. Small, as a real deployment sizes it. */
  defaultPoolSize?: number;
  maxClientConn?: number;
  /**
   * Startup parameters PgBouncer accepts from clients and drops (it refuses unknown ones).
   * Dropped means not applied: a `statement_timeout` sent this way would be silently lost,
   * which is why it is not in the default list and a client sending it is refused instead.
   */
  ignoreStartupParameters?: string[];
}

export interface RunningPgBouncer {
  port: number;
  /** A connection string for `databaseName` through PgBouncer (same user as the upstream URL). */
  url(databaseName: string): string;
  /** The PgBouncer admin console (`SHOW POOLS`, `SHOW SERVERS`…): simple-protocol queries only. */
  adminUrl: string;
  output(): string;
  /** SIGTERM (immediate shutdown, server connections closed), then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** uid/gid of `postgres` from /etc/passwd: the user PgBouncer runs as when we are root. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new Error('running as root, PgBouncer needs a `postgres` user to run as (it refuses root); none in /etc/passwd');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** PgBouncer's ini values are plain; quoting is only needed in the auth file. */
function iniValue(value: string): string {
  if (/[\n\r]/.test(value)) throw new Error(`bad PgBouncer setting value: ${JSON.stringify(value)}`);
  return value;
}

/**
 * Starts PgBouncer and returns once it accepts connections (its admin console answers).
 * Fails with a message naming `.ci/install-tools.sh` when pgbouncer is not installed.
 */
export async function startPgBouncer({
  databaseUrl = ADMIN_DATABASE_URL,
  poolMode = 'transaction',
  defaultPoolSize = 10,
  maxClientConn = 100,
  ignoreStartupParameters = ['extra_float_digits', 'options'],
}: PgBouncerOptions = {}): Promise<RunningPgBouncer> {
  const binary = await requireCommand('pgbouncer');
  const upstream = new URL(databaseUrl);
  const user = decodeURIComponent(upstream.username || 'postgres');
  const upstreamHost = upstream.hostname || '127.0.0.1';
  const upstreamPort = upstream.port || '5432';
  const [port] = await freePorts(1);
  const dir = await makeTempDir('pgbouncer');
  const asRoot = process.getuid?.() === 0;
  const runAs = asRoot ? await postgresUser() : undefined;
  let proc: OwnedProcess | undefined;

  const stop = async () => {
    await proc?.kill('SIGTERM', 3_000);
    await removeTempDir(dir);
  };

  try {
    // auth_type trust still looks the user up in auth_file: list it, with no password.
    await writeFile(join(dir, 'userlist.txt'), `"${user.replace(/"/g, '""')}" ""\n`);
    await writeFile(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        // Any database name a client asks for goes to the same-named database upstream.
        `* = host=${iniValue(upstreamHost)} port=${iniValue(upstreamPort)}`,
        '',
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        // No unix socket: nothing of ours outside the temp dir.
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        `admin_users = ${iniValue(user)}`,
        `stats_users = ${iniValue(user)}`,
        `pool_mode = ${poolMode}`,
        `max_client_conn = ${maxClientConn}`,
        `default_pool_size = ${defaultPoolSize}`,
        `ignore_startup_parameters = ${iniValue(ignoreStartupParameters.join(','))}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        // The default, stated: the most recently released idle server connection is reused first
        // (LIFO). Tests that show what transaction pooling breaks rely on it to be deterministic.
        'server_round_robin = 0',
        // Tests drop their databases at the end: do not keep retrying a vanished one for long.
        'server_login_retry = 1',
        'log_connections = 0',
        'log_disconnections = 0',
        '',
      ].join('\n'),
    );
    if (runAs) {
      // The postgres user must read the config and write the pid file.
      await chown(dir, runAs.uid, runAs.gid);
      for (const file of ['userlist.txt', 'pgbouncer.ini']) await chown(join(dir, file), runAs.uid, runAs.gid);
    }
    await chmod(dir, 0o700);

    proc = spawnOwned(binary, [join(dir, 'pgbouncer.ini')], { cwd: dir, ...(runAs ?? {}) });
    const running = proc;
    const adminUrl = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/pgbouncer`;
    await waitFor(
      `PgBouncer on port ${port} to accept connections`,
      async () => {
        if (!running.alive()) throw new Error(`pgbouncer exited:\n${running.output().slice(-2_000)}`);
        const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SHOW VERSION');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      15_000,
      100,
    );
    return {
      port,
      adminUrl,
      url(databaseName: string) {
        return `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(databaseName)}`;
      },
      output: () => running.output(),
      stop,
    };
  } catch (error) {
    const output = proc?.output().slice(-2_000) ?? '';
    await stop();
    throw new Error(`PgBouncer did not start: ${(error as Error).message}${output ? `\n${output}` : ''}`, { cause: error });
  }
}
