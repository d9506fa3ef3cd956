/** Reads the numbered SQL migrations of a dialect: migrations/<dialect>/NNNN_<what>.sql. */
import { readdirSync, readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from '../package-root.ts';
import type { Dialect } from './store.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATIONS_ROOT = new URL('migrations/', PACKAGE_ROOT);

export function loadMigrations(dialect: Dialect): Migration[] {
  const dir = new URL(`${dialect}/`, MIGRATIONS_ROOT);
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(new URL(file, dir), 'utf8'),
    }));
}
