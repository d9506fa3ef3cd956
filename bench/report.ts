/**
 * Bench: the checks (each figure, its ratio to the ceiling measured in the same run, its target and
 * PASS/FAIL), the printed table, and the JSON written to bench/results/.
 */
import type { CeilingResult } from './ceiling-main.ts';
import type { DialectResult } from './dialect.ts';
import type { Arrivals, ThroughputResult } from './scenarios.ts';
import { round } from './stats.ts';

export interface Check {
  dialect: string;
  scenario: string;
  figure: string;
  value: number | string;
  unit: string;
  /** value / ceiling requests/s, for rates. */
  ratio: number | null;
  target: string;
  pass: boolean | null;
  /** What to know when reading the figure (late arrivals, backlog, publish failures). */
  note: string;
}

const MISSING = 'zero missing';

function rateCheck(dialect: string, scenario: string, figure: string, value: number, ceiling: number, min: number | null): Check {
  const ratio = ceiling > 0 ? round(value / ceiling, 2) : null;
  return {
    dialect,
    scenario,
    figure,
    value,
    unit: '/s',
    ratio,
    target: min === null ? '' : `≥ ${min.toFixed(1)}× ceiling`,
    pass: min === null ? null : ratio !== null && ratio >= min,
    note: '',
  };
}

function missingCheck(dialect: string, scenario: string, a: Arrivals, publishFailed: number): Check {
  const value = `${a.missing} missing, ${a.duplicates} dup${publishFailed ? `, ${publishFailed} publish failed` : ''}`;
  const notes: string[] = [];
  if (a.missingAtCutoff > 0) notes.push(`${a.missingAtCutoff} not arrived at cut-off (${a.cutoffNote}): rates count only ${a.inWindow}`);
  if (a.backlogAtStart > 0) notes.push(`started behind ${a.backlogAtStart} undelivered from earlier scenarios`);
  return { dialect, scenario, figure: 'delivery', value, unit: '', ratio: null, target: MISSING, pass: a.missing === 0 && publishFailed === 0, note: notes.join('; ') };
}

/**
 * Herald's CPU time (all processes, all threads, publishing included) per delivery: steadier than
 * the rates when something else loads the machine, and what the targets come down to.
 */
function cpuCheck(dialect: string, scenario: string, cpuMs: number, deliveries: number): Check {
  const value = deliveries > 0 ? Math.round((cpuMs * 1000) / deliveries) : 0;
  return { dialect, scenario, figure: 'Herald CPU per delivery', value, unit: ' µs', ratio: null, target: '', pass: null, note: '' };
}

function failed(dialect: string, scenario: string): Check {
  return { dialect, scenario, figure: 'scenario', value: 'did not complete', unit: '', ratio: null, target: 'runs', pass: false, note: 'see errors' };
}

function throughputChecks(dialect: string, scenario: string, t: ThroughputResult | undefined, ceiling: number, deliveredMin: number | null): Check[] {
  if (!t) return [failed(dialect, scenario)];
  return [
    rateCheck(dialect, scenario, 'publish-accept events', t.acceptPerSecond, ceiling, 1.0),
    rateCheck(dialect, scenario, 'delivered events', t.deliveredPerSecond, ceiling, deliveredMin),
    cpuCheck(dialect, scenario, t.heraldCpuMs, t.arrivals.inWindow),
    missingCheck(dialect, scenario, t.arrivals, t.publishFailed),
  ];
}

export function buildChecks(ceiling: CeilingResult, dialects: DialectResult[]): Check[] {
  const c = ceiling.requestsPerSecond;
  const checks: Check[] = [
    { dialect: '-', scenario: 'ceiling', figure: 'receiver requests (undici, 64 in flight)', value: round(c, 0), unit: '/s', ratio: 1, target: '', pass: null, note: '' },
  ];
  for (const d of dialects) {
    const name = d.dialect;
    checks.push(...throughputChecks(name, 'throughput', d.throughput, c, name === 'sqlite' ? 0.6 : null));
    const l = d.latency;
    if (!l) checks.push(failed(name, 'latency'));
    else {
      const scenario = `latency ${l.rate}/s`;
      checks.push(
        {
          dialect: name,
          scenario,
          figure: 'p50 / p95 end-to-end',
          value: `${ms(l.endToEndMs.p50)} / ${ms(l.endToEndMs.p95)}`,
          unit: 'ms',
          ratio: null,
          target: '',
          pass: null,
          note: `${l.endToEndMs.count} matched; publish call p50 ${ms(l.publishCallMs.p50)} ms; sent at ${l.achievedRate}/s`,
        },
        {
          dialect: name,
          scenario,
          figure: 'p99 end-to-end',
          value: ms(l.endToEndMs.p99),
          unit: 'ms',
          ratio: null,
          target: '≤ 10 ms',
          pass: l.endToEndMs.p99 <= 10,
          note: '',
        },
        missingCheck(name, scenario, l.arrivals, l.publishFailed),
      );
    }
    const f = d.fanout;
    if (!f) checks.push(failed(name, 'fan-out'));
    else {
      const scenario = `fan-out ${f.subscriptions}×${f.events}`;
      checks.push(
        rateCheck(name, scenario, 'deliveries', f.deliveriesPerSecond, c, 0.5),
        cpuCheck(name, scenario, f.heraldCpuMs, f.arrivals.inWindow),
        missingCheck(name, scenario, f.arrivals, f.publishFailed),
      );
    }
    if (name === 'postgres') checks.push(...throughputChecks(name, '1 api + 2 workers', d.multiProcess, c, 0.4));
    for (const m of d.memory) {
      checks.push({ dialect: name, scenario: m.scenario, figure: `peak RSS --role ${m.role}`, value: m.peakRssMb, unit: 'MB', ratio: null, target: '≤ 250 MB', pass: m.peakRssMb <= 250, note: '' });
    }
    for (const error of d.errors) {
      checks.push({ dialect: name, scenario: 'error', figure: '', value: '', unit: '', ratio: null, target: '', pass: false, note: error.slice(0, 300) });
    }
  }
  return checks;
}

/** A latency for display: 2 decimals, or n/a when nothing was measured. */
function ms(value: number | null): string {
  return value === null || Number.isNaN(value) ? 'n/a' : String(value);
}

function formatValue(check: Check): string {
  const value = typeof check.value === 'number' ? check.value.toLocaleString('en-US') : check.value;
  return check.unit ? `${value} ${check.unit}` : value;
}

export function formatTable(checks: Check[]): string {
  const header = ['dialect', 'scenario', 'figure', 'value', '× ceiling', 'target', 'result', 'note'];
  const rows = checks.map((c) => [
    c.dialect,
    c.scenario,
    c.figure,
    formatValue(c),
    c.ratio === null ? '' : `${c.ratio.toFixed(2)}×`,
    c.target,
    c.pass === null ? '' : c.pass ? 'PASS' : 'FAIL',
    c.note,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The local date, YYYY-MM-DD, from the system clock. */
export function localDate(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}
