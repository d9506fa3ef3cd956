/**
 * Starts a worker thread from a module of Herald's. In the bundle that bin/herald.mjs makes, the
 * module is a .mjs built beside the bundle. Run from src/ (tests, tsx) it is a .ts file, which a
 * thread cannot load by itself (it does not inherit tsx's loader): it is bundled here with esbuild,
 * once per module and process, as bin/herald.mjs does. Registering tsx in each thread instead cost
 * ~550 ms of CPU per thread start against ~220 ms, which mattered where threads are replaced.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { PACKAGE_ROOT } from './package-root.ts';

const bundles = new Map<string, URL>();
let outdir: string | null = null;

/**
 * The folder this process's bundles go to: under node_modules/.cache/herald, where packages
 * resolve as from src/, named like bin/herald.mjs's so a later start removes it if this process
 * dies before its exit handler runs.
 */
function bundleFolder(): string {
  if (outdir === null) {
    const dir = `${fileURLToPath(PACKAGE_ROOT)}node_modules/.cache/herald/herald-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(dir, { recursive: true });
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    outdir = dir;
  }
  return outdir;
}

function bundled(body: URL): URL {
  let out = bundles.get(body.href);
  if (!out) {
    const outfile = `${bundleFolder()}/thread-${bundles.size}.mjs`;
    buildSync({
      entryPoints: [fileURLToPath(body)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      sourcemap: 'inline',
      logLevel: 'error',
    });
    out = pathToFileURL(outfile);
    bundles.set(body.href, out);
  }
  return out;
}

export function startThread(body: URL, options: WorkerOptions): Worker {
  return new Worker(body.pathname.endsWith('.ts') ? bundled(body) : body, options);
}
