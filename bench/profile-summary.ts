/**
 * Summarises `node --cpu-prof` output: where a Herald process spent its CPU, by function and by
 * module (self time), so "how it scales" in the README can name the bottleneck with figures.
 *
 *   node --import tsx bench/profile-summary.ts /tmp/prof/*.cpuprofile [--top 25]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (url.includes('/node_modules/.cache/herald/')) return 'herald';
  const at = url.lastIndexOf('/node_modules/');
  if (at >= 0) return url.slice(at + '/node_modules/'.length);
  const src = url.search(/\/(src|bench)\//);
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^node:/, 'node:') || '(native)';
}

/** A module: a package under node_modules, a file of ours, or Node's internals. */
function moduleOf(url: string): string {
  // bin/herald.mjs runs a bundle of src/: its functions keep their names, not their files.
  if (url.includes('/node_modules/.cache/herald/')) return 'herald (src/, bundled)';
  const short = shortUrl(url);
  if (url.includes('/node_modules/')) {
    const parts = short.split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? short);
  }
  return short;
}

function summarise(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = profile.endTime - profile.startTime;
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const fn = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const mod = frame.url ? moduleOf(frame.url) : frame.functionName || '(native)';
    byModule.set(mod, (byModule.get(mod) ?? 0) + us);
  }
  const idle = byModule.get('(idle)') ?? 0;
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
  process.stdout.write(`\n${file}\n  wall ${(total / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(1)} s (${((100 * busy) / total).toFixed(0)} % of one core)\n`);
  const print = (title: string, map: Map<string, number>) => {
    process.stdout.write(`  ${title} (self time, share of busy):\n`);
    for (const [name, us] of [...map].filter(([n]) => n !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`    ${pct(us)}  ${name}\n`);
    }
  };
  print('modules', byModule);
  print('functions', byFunction);
}

const args = process.argv.slice(2);
let top = 25;
const files: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--top') top = Number(args[++i]);
  else files.push(args[i] as string);
}
if (files.length === 0) {
  process.stderr.write('usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile… [--top N]\n');
  process.exit(2);
}
for (const file of files) summarise(file, top);
