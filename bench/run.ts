/**
 * `npm run bench [-- --quick]`: Herald's performance against the machine's own ceiling, in one run.
 *
 * Processes: this one (orchestration only), the receiver (bench/receiver-main.ts), the ceiling
 * client (bench/ceiling-main.ts, for the ceiling only), the load generator (bench/load-main.ts,
 * every publish), and the Herald processes (`bin/herald.mjs serve` with its `#!` node flags). All of them are killed
 * when the bench ends, whatever ends it. Results: a table on stdout and bench/results/<date>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname } from 'node:path';
import type { CeilingResult } from './ceiling-main.ts';
import { Helper, fail, installExitHandlers, shutdown } from './children.ts';
import { DATA_BYTES } from './common.ts';
import { postgresAnswers, postgresSettings } from './database.ts';
import { type DialectResult, runDialect } from './dialect.ts';
import { type Dialect, parseParams } from './params.ts';
import { buildChecks, formatTable, localDate } from './report.ts';
import type { Rig } from './scenarios.ts';

function gitCommit(): string | null {
  try {
    const cwd = new URL('..', import.meta.url).pathname;
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8', timeout: 5000 }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin', 'migrations'], { cwd, encoding: 'utf8', timeout: 5000 }).trim();
    return dirty ? `${head}+uncommitted` : head;
  } catch {
    return null;
  }
}

function machine() {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadAverageAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

/** Requests/s straight from a separate undici client process to the receiver. */
async function measureCeiling(rig: Rig, when: string): Promise<CeilingResult> {
  const { params, receiver, receiverPort } = rig;
  process.stdout.write(`  ceiling ${when}: undici → receiver, ${params.ceiling.concurrency} in flight for ${params.ceiling.durationMs / 1000} s…\n`);
  const client = await Helper.start('./ceiling-main.ts', 'ceiling client');
  const ceiling = await client.call<CeilingResult>(
    'run',
    { port: receiverPort, durationMs: params.ceiling.durationMs, concurrency: params.ceiling.concurrency, group: 'ceiling' },
    params.ceiling.durationMs + 30_000,
  );
  await client.stop();
  await receiver.call('clear', { group: 'ceiling' });
  process.stdout.write(`  ceiling: ${Math.round(ceiling.requestsPerSecond)} requests/s (${ceiling.errors} errors)\n`);
  return ceiling;
}

async function main(): Promise<void> {
  installExitHandlers();
  const params = parseParams(process.argv.slice(2));
  const startedAt = new Date();
  const info = machine();
  process.stdout.write(
    `Herald bench${params.quick ? ' (quick)' : ''}: ${info.cores} cores, node ${info.node}, load average ${info.loadAverageAtStart.join(' ')}\n`,
  );

  const dialects: Dialect[] = [];
  const skipped: string[] = [];
  for (const dialect of params.dialects) {
    if (dialect === 'postgres' && !(await postgresAnswers())) skipped.push('postgres: nothing answers on 127.0.0.1:5432');
    else dialects.push(dialect);
  }
  for (const note of skipped) process.stdout.write(`  skipped ${note}\n`);
  const postgres = dialects.includes('postgres') ? await postgresSettings().catch(() => null) : null;
  if (postgres) {
    process.stdout.write(`  postgres ${postgres.server_version}: autovacuum ${postgres.autovacuum}, synchronous_commit ${postgres.synchronous_commit}\n`);
    if (postgres.autovacuum === 'off') {
      process.stdout.write('  note: autovacuum is off on this server: the queue table keeps its dead rows for the whole run\n');
    }
  }

  const receiver = await Helper.start('./receiver-main.ts', 'receiver');
  const { port: receiverPort } = (await receiver.ready) as { port: number };
  const load = await Helper.start('./load-main.ts', 'load');
  const rig: Rig = { params, receiver, receiverPort, load };

  const ceiling = await measureCeiling(rig, 'first');
  const results: DialectResult[] = [];
  for (const dialect of dialects) results.push(await runDialect(dialect, rig));
  // Measured again only to show how much the machine's capacity moved during the run.
  const ceilingAtEnd = await measureCeiling(rig, 'again at the end (for information)');

  const checks = buildChecks(ceiling, results);
  const finishedAt = new Date();
  process.stdout.write(`\n${formatTable(checks)}\n`);
  const drift = ceilingAtEnd.requestsPerSecond / Math.max(1, ceiling.requestsPerSecond);
  process.stdout.write(
    `\nceiling ${Math.round(ceiling.requestsPerSecond)}/s at the start, ${Math.round(ceilingAtEnd.requestsPerSecond)}/s at the end (ratios use the first)\n`,
  );
  if (drift < 0.75 || drift > 1.33) {
    process.stdout.write('warning: the ceiling moved by more than a third during the run: something else loads this machine, ratios are unreliable\n');
  }
  for (const r of results) {
    for (const text of r.heraldStderr) process.stdout.write(`\n${r.dialect}: Herald wrote to stderr:\n${text}\n`);
  }

  const out = params.out ?? new URL(`./results/${localDate(startedAt)}.json`, import.meta.url).pathname;
  mkdirSync(dirname(out), { recursive: true });
  const report = {
    date: localDate(startedAt),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
    quick: params.quick,
    machine: { ...info, postgres },
    herald: { commit: gitCommit(), settings: params.herald },
    setup: {
      receiver: 'separate process, node:http on 127.0.0.1, 204 after reading the body',
      publisher: 'separate load process (undici keep-alive); the bench process only orchestrates',
      eventDataBytes: DATA_BYTES,
      note: 'all processes share one machine (and, here, other test runs): figures are relative to the ceiling measured in the same run',
    },
    params,
    skipped,
    ceiling,
    ceilingAtEnd,
    ceilingDrift: Math.round(drift * 100) / 100,
    results,
    checks,
    passed: checks.every((c) => c.pass !== false),
  };
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const failures = checks.filter((c) => c.pass === false).length;
  process.stdout.write(
    `\n${failures === 0 ? 'all targets met' : `${failures} target(s) missed`}; ${report.durationSeconds} s; written to ${out}\n`,
  );
  await receiver.stop();
  await load.stop();
}

main().then(() => shutdown(0), fail);
