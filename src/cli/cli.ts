/** The `herald` command: serve, migrate, env create, key create. */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from '../config.ts';
import { createEnvironment } from '../core/environments.ts';
import { createApiKey } from '../core/keys.ts';
import { ROLES, type Role } from '../domain/types.ts';
import { coreDepsFor, serve } from '../main.ts';
import { openStore } from '../store/open-store.ts';
import type { Store } from '../store/store.ts';
import { VERSION } from '../version.ts';

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
  .description('run the HTTP API (migrations are applied first)')
  .action(async () => {
    const running = await serve(config());
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

program.parseAsync(process.argv).catch((error: unknown) => fail((error as Error).message));
