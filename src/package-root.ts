/**
 * The folder holding Herald's package.json, found by walking up from this module: the same
 * answer whether the sources run as they are (tests, tsx) or bundled into one file elsewhere
 * (bin/herald.mjs), so files shipped beside the code (migrations/, package.json) are found.
 */
import { existsSync, readFileSync } from 'node:fs';

function findRoot(): URL {
  let dir = new URL('./', import.meta.url);
  for (;;) {
    const candidate = new URL('package.json', dir);
    if (existsSync(candidate) && (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name === 'herald') {
      return dir;
    }
    const parent = new URL('../', dir);
    if (parent.href === dir.href) throw new Error('cannot find Herald\'s package.json above ' + import.meta.url);
    dir = parent;
  }
}

export const PACKAGE_ROOT: URL = findRoot();
