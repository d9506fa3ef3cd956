/** The `herald` command: serve, migrate, env create, key create, listen. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig } from '../config.ts';
import { createEnvironment } from '../core/environments.ts';
import { createApiKey } from '../core/keys.ts';
import { isValidSigningSecret } from '../delivery/sign.ts';
import { ROLES, type Role } from '../domain/types.ts';
import { coreDepsFor } from '../core-deps.ts';
import { type Role as ServeRole, SERVE_ROLES, serve } from '../main.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { VERSION } from '../version.ts';
import { startListener } from './listen.ts';

function fail(message: string): never {
  process.stderr.write(`herald: ${message}\n`);
  process.exit(1);
}

function config() {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** Opens and migrates the configured store, runs `work`, closes it. */
async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const store = openStore(config().databaseUrl);
  try {
    await store.migrate();
    return await work(store);
  } finally {
    await store.close();
  }
}

const program = new Command('herald').version(VERSION).description('Herald: webhook event publishing');

program
  .command('serve')
  .description('run Herald (migrations are applied first)')
  .addOption(
    new Option('--role <role>', 'api: the HTTP API; worker: delivery; all: both').choices(SERVE_ROLES).default('all'),
  )
  .action(async (options: { role: ServeRole }) => {
    const running = await serve(config(), options.role);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`herald: ${signal}, shutting down\n`);
      await running.stop();
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  });

program
  .command('migrate')
  .description('apply pending database migrations and exit')
  .action(async () => {
    await withStore(async () => undefined);
    process.stdout.write('migrations applied\n');
  });

const env = program.command('env').description('manage environments');
env
  .command('create')
  .description('create an environment; prints its id and admin key (shown once)')
  .requiredOption('--name <name>', 'display name')
  .option('--quota <n>', 'monthly event quota', (value) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
    return Number(value);
  })
  .action(async (options: { name: string; quota?: number }) => {
    const cfg = config();
    const created = await withStore((store) =>
      createEnvironment(coreDepsFor(cfg, store), {
        name: options.name,
        ...(options.quota !== undefined ? { monthlyEventQuota: options.quota } : {}),
      }),
    );
    process.stdout.write(`HERALD_ENV_ID=${created.environment.id}\nHERALD_ADMIN_KEY=${created.adminKey}\n`);
  });

const key = program.command('key').description('manage API keys');
key
  .command('create')
  .description('create an API key in an environment; prints the key (shown once)')
  .requiredOption('--env <id>', 'environment id')
  .requiredOption('--name <name>', 'key name')
  .option('--role <role>', `one of ${ROLES.join(', ')}`, (value) => {
    if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected ${ROLES.join(', ')}`);
    return value as Role;
  }, 'publisher' as Role)
  .option('--permission <p...>', 'permissions (for app-owned topics)')
  .action(async (options: { env: string; name: string; role: Role; permission?: string[] }) => {
    const cfg = config();
    const created = await withStore(async (store) => {
      if (!(await store.getEnvironment(options.env))) fail(`no environment ${options.env}`);
      return createApiKey(coreDepsFor(cfg, store), options.env, {
        name: options.name,
        role: options.role,
        permissions: options.permission ?? [],
      });
    });
    process.stdout.write(`HERALD_KEY_ID=${created.key.id}\nHERALD_API_KEY=${created.token}\n`);
  });

program
  .command('listen')
  .description('run a local webhook receiver that verifies signatures and prints each delivery')
  .requiredOption('--port <n>', 'port to listen on (0 = any free port)', (value) => {
    if (!/^\d+$/.test(value) || Number(value) > 65535) throw new InvalidArgumentError('expected a port, 0..65535');
    return Number(value);
  })
  .requiredOption('--secret <whsec>', "the subscription's signing secret (whsec_…)", (value) => {
    if (!isValidSigningSecret(value)) throw new InvalidArgumentError('expected whsec_ + base64 of 24..64 bytes');
    return value;
  })
  .option('--status <code>', 'status to answer correctly signed requests with', (value) => {
    if (!/^\d{3}$/.test(value) || Number(value) < 200 || Number(value) > 599) {
      throw new InvalidArgumentError('expected an HTTP status, 200..599');
    }
    return Number(value);
  }, 204)
  .option('--host <address>', 'address to bind', '127.0.0.1')
  .action(async (options: { port: number; secret: string; status: number; host: string }) => {
    const listener = await startListener({ ...options, print: (line) => process.stdout.write(`${line}\n`) });
    process.stderr.write(`herald: listening on http://${options.host}:${listener.port}/ (Ctrl-C to stop)\n`);
    const stop = () => void listener.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

program.parseAsync(process.argv).catch((error: unknown) => fail((error as Error).message));
