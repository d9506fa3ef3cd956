#!/usr/bin/env node
// The `herald` command. Herald is written in TypeScript and has no build step to run by hand:
// on every start this bundles src/ with esbuild (its own code only; packages stay imports) into a
// file of this process's own under node_modules/.cache, loads it and deletes it. Running the
// sources through tsx instead kept its loader thread and transform caches alive beside the
// server: 90 MB of the process's 160 MB resident at rest.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = `${root}node_modules/.cache/herald`;
mkdirSync(cacheDir, { recursive: true });
// One file per process: several Herald processes may start at once from one checkout.
const outfile = `${cacheDir}/herald-${process.pid}-${randomBytes(4).toString('hex')}.mjs`;
try {
  await build({
    entryPoints: [`${root}src/cli/cli.ts`],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'error',
  });
  removeOrphans();
  process.setSourceMapsEnabled(true);
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(outfile, { force: true });
}

/** Bundles left by processes that died while starting (their pid is in the name). */
function removeOrphans() {
  for (const file of readdirSync(cacheDir)) {
    const pid = Number(/^herald-(\d+)-/.exec(file)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (error.code === 'ESRCH') rmSync(`${cacheDir}/${file}`, { force: true });
    }
  }
}
