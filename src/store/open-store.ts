import { PostgresStore } from './postgres/postgres-store.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

/** Opens the store HERALD_DATABASE_URL names: `sqlite:<path>` or `postgres://…`. */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) return SqliteStore.open(databaseUrl.slice('sqlite:'.length));
  return PostgresStore.open(databaseUrl);
}
