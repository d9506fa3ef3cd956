import { resolve } from 'node:path';
import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/**
 * Opens the store HERALD_DATABASE_URL names: `sqlite:<path>` or `postgres://…`. A SQLite file that
 * cannot be opened (not a database, damaged, unreadable) stops start-up with a message naming the
 * file and the variable, since the operator fixes it by restoring the file or changing the variable.
 */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    try {
      return SqliteStore.open(path);
    } catch (error) {
      const file = path === ':memory:' ? path : resolve(path);
      throw new Error(
        `cannot open the SQLite database file ${file} (HERALD_DATABASE_URL=${databaseUrl}): ` +
          `${(error as Error).message}. Restore the file from a backup, or set HERALD_DATABASE_URL to another file.`,
        { cause: error },
      );
    }
  }
  return PostgresStore.open(databaseUrl);
}
