#!/usr/bin/env -S node --v8-pool-size=1
// --v8-pool-size=1: V8 runs its garbage collector's helper work on one background thread instead
// of four. On two cores, four helpers marking and scavenging at once beside the receiver and
// the publisher took the CPU from Herald's own thread for 8-18 ms at a time, which was most of
// the latency tail: p99 at 500 events/s went from 16-23 ms to 9.5-10.1 ms (three runs each of
// `npm run bench -- --dialect sqlite`; two helpers gave 18.6 ms). It can only be set when node
// starts, hence here; `npm start` runs this file through this line.

// The `herald` command. Herald is written in TypeScript and has no build step to run by hand:
// on every start this bundles src/ with esbuild (its own code only; packages stay imports) into a
// folder of this process's own under node_modules/.cache: the command, and beside it the bodies of
// the sender and schema threads (src/delivery/send-thread.ts, src/core/schemas/schema-thread.ts).
// It loads the command and removes the folder when the process exits (a later start removes those
// of processes that died). Running the sources through tsx instead kept its loader thread and
// transform caches alive beside the server: 173 MB resident at rest against 135 MB now.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import { build } from 'esbuild';

// V8 otherwise lets the old generation grow to up to four times what is live before it collects
// it: Herald's resident memory reached 325 MB under the benchmark's load. Growing it by at most
// 60 % keeps the peak near 225 MB. (--optimize-for-size kept it near 190 MB, but it also shrinks
// the young generation and holds back the compiler: 20-40 % more CPU per delivered event, and
// V8's helper threads busy collecting garbage for 12-16 s of a 40 s run. Measured with
// `npm run bench -- --dialect sqlite`, two runs of each setting.)
v8.setFlagsFromString('--heap-growing-percent=60');

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = `${root}node_modules/.cache/herald`;
// One folder per process: several Herald processes may start at once from one checkout.
const outdir = `${cacheDir}/herald-${process.pid}-${randomBytes(4).toString('hex')}`;
mkdirSync(cacheDir, { recursive: true });
process.on('exit', () => rmSync(outdir, { recursive: true, force: true }));
await build({
  entryPoints: [
    { in: `${root}src/cli/cli.ts`, out: 'cli' },
    { in: `${root}src/delivery/send-thread.ts`, out: 'send-thread' },
    { in: `${root}src/core/schemas/schema-thread.ts`, out: 'schema-thread' },
  ],
  outdir,
  outExtension: { '.js': '.mjs' },
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
await import(pathToFileURL(`${outdir}/cli.mjs`).href);

/** Bundles left by processes that died while starting (their pid is in the name). */
function removeOrphans() {
  for (const file of readdirSync(cacheDir)) {
    const pid = Number(/^herald-(\d+)-/.exec(file)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if (error.code === 'ESRCH') rmSync(`${cacheDir}/${file}`, { recursive: true, force: true });
    }
  }
}
