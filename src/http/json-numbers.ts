/**
 * Numbers that JSON can carry but a double cannot. JSON puts no limit on a number's size or
 * precision, while JSON.parse reads every number into a double: `1e400` becomes Infinity (stored as
 * `null` by JSON.stringify), `1e-400` becomes 0, and `9007199254740993` becomes
 * `9007199254740992`. Herald would then store, validate against and deliver a value the caller
 * never sent, so such numbers are refused instead. Decimal fractions that merely round (`0.1`) are
 * accepted: that is what every JSON parser does with them.
 *
 * This runs on every request body, so the common case must cost next to nothing. Every number a
 * double may not hold has a run of 16+ digits (an integer past 2^53, or hundreds of digits of
 * mantissa or leading zeros) or an exponent of 3+ digits. So findUnsafeNumbers looks for such digit
 * runs, visiting about one character in three; only when it finds one does it work out whether the
 * run lies inside a string (jumping from quote to quote) and, if not, read the number around it.
 * Only a body that really holds an unsafe number is scanned token by token, to name each one's path.
 */
import type { FieldProblem } from '../errors.ts';

/** At most this many numbers are reported, so a body of a million of them answers a short problem. */
const MAX_REPORTED = 20;

/** Why one JSON number token cannot be read into a double unaltered, or null when it can. */
export function unsafeNumberReason(token: string): string | null {
  const value = Number(token);
  if (!Number.isFinite(value)) {
    const infinity = value < 0 ? '-Infinity' : 'Infinity';
    return (
      `${token} is too large for a double-precision number and would become ${infinity}: ` +
      'send a smaller number, or the value as a string'
    );
  }
  const exponentAt = token.search(/[eE]/);
  if (value === 0) {
    const mantissa = exponentAt < 0 ? token : token.slice(0, exponentAt);
    if (/[1-9]/.test(mantissa)) {
      return `${token} is too small for a double-precision number and would become 0: send 0, or the value as a string`;
    }
    return null;
  }
  if (exponentAt < 0 && !token.includes('.') && !Number.isSafeInteger(value)) {
    return (
      `${token} is an integer beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1), which a double-precision ` +
      'number cannot hold exactly: send such values as strings'
    );
  }
  return null;
}

/** A JSON pointer segment (RFC 6901). */
const segment = (key: string): string => key.replaceAll('~', '~0').replaceAll('/', '~1');

interface Frame {
  /** The current key (objects) or index (arrays). */
  at: string | number;
  isArray: boolean;
}

const pathOf = (frames: Frame[]): string =>
  frames.map((frame) => `/${typeof frame.at === 'number' ? frame.at : segment(frame.at)}`).join('');

/** Index of the quote closing the string whose opening quote is at `start`; -1 when unterminated. */
function closingQuote(text: string, start: number): number {
  let i = start;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === 92 /* \ */) backslashes++;
    if ((backslashes & 1) === 0) return i;
  }
}

/** 0-9 - + . e E: what a JSON number token is made of. */
const isNumberChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46 || c === 101 || c === 69;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** JSON whitespace. */
const isSpace = (c: number): boolean => c === 32 || c === 10 || c === 13 || c === 9;
/** Outside strings, a number follows the start of the text, whitespace, `[`, `:` or `,` (NaN: the start). */
const canPrecedeNumber = (c: number): boolean => Number.isNaN(c) || isSpace(c) || c === 91 || c === 58 || c === 44;
/** …and is followed by the end of the text, whitespace, `,`, `]` or `}`. */
const canFollowNumber = (c: number): boolean => Number.isNaN(c) || isSpace(c) || c === 44 || c === 93 || c === 125;

/**
 * The next run of digits at or after `from` that is 16+ long, or 3+ long right after an exponent
 * marker (`e`, `E`, optionally with a sign): `[start, end)`, or null. Inside strings too: the
 * caller sorts those out. No run of digits may straddle `from`.
 *
 * Any run of 3+ digits covers one of every third position, so the loop looks at every third
 * character and only reads around the digits it lands on.
 */
function nextSuspectRun(text: string, from: number): [number, number] | null {
  const length = text.length;
  let i = from + 2;
  while (i < length) {
    if (!isDigit(text.charCodeAt(i))) {
      i += 3;
      continue;
    }
    let start = i;
    while (start > from && isDigit(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < length && isDigit(text.charCodeAt(end))) end++;
    if (end - start >= 16) return [start, end];
    if (end - start >= 3) {
      let marker = start - 1;
      const sign = text.charCodeAt(marker);
      if (sign === 43 /* + */ || sign === 45 /* - */) marker--;
      const e = text.charCodeAt(marker);
      if (e === 101 /* e */ || e === 69 /* E */) return [start, end];
    }
    i = end + 3;
  }
  return null;
}

/**
 * Every number in `text` that a double cannot hold unaltered, located by JSON pointer ('' is the
 * whole body); at most 20. `text` must be valid JSON (parse it first): the scan trusts its structure.
 */
export function findUnsafeNumbers(text: string): FieldProblem[] {
  const length = text.length;
  // Everything before `outside` is classified, and `outside` itself is not inside a string.
  let outside = 0;
  let run = nextSuspectRun(text, 0);
  while (run !== null) {
    let start = run[0];
    while (start > 0 && isNumberChar(text.charCodeAt(start - 1))) start--;
    let end = run[1];
    while (end < length && isNumberChar(text.charCodeAt(end))) end++;
    // An id or a hex string touches a quote or a letter: no number does, so no need to find its string.
    if (canPrecedeNumber(text.charCodeAt(start - 1)) && canFollowNumber(text.charCodeAt(end))) {
      let stringEnd = -1;
      for (;;) {
        const open = text.indexOf('"', outside);
        if (open < 0 || open > start) break;
        const close = closingQuote(text, open);
        if (close < 0) return [];
        if (close > start) {
          stringEnd = close;
          break;
        }
        outside = close + 1;
      }
      if (stringEnd >= 0) outside = stringEnd + 1;
      else if (unsafeNumberReason(text.slice(start, end)) !== null) return locateUnsafeNumbers(text);
      else outside = end;
    }
    run = nextSuspectRun(text, Math.max(end, outside));
  }
  return [];
}

/** Every unsafe number in `text`, by JSON pointer: a token-by-token scan, run only when there is one. */
function locateUnsafeNumbers(text: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const frames: Frame[] = [];
  let expectingKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = closingQuote(text, i);
      if (end < 0) break;
      const top = frames[frames.length - 1];
      if (expectingKey && top) top.at = JSON.parse(text.slice(i, end + 1)) as string;
      i = end;
    } else if (c === 123 /* { */) {
      frames.push({ at: '', isArray: false });
      expectingKey = true;
    } else if (c === 91 /* [ */) {
      frames.push({ at: 0, isArray: true });
      expectingKey = false;
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      frames.pop();
      expectingKey = false;
    } else if (c === 44 /* , */) {
      const top = frames[frames.length - 1];
      if (top?.isArray) top.at = (top.at as number) + 1;
      else expectingKey = true;
    } else if (c === 58 /* : */) {
      expectingKey = false;
    } else if (c === 45 /* - */ || isDigit(c)) {
      let end = i + 1;
      while (end < length && isNumberChar(text.charCodeAt(end))) end++;
      const reason = unsafeNumberReason(text.slice(i, end));
      if (reason !== null) {
        problems.push({ path: pathOf(frames), message: reason });
        if (problems.length >= MAX_REPORTED) break;
      }
      i = end - 1;
    }
  }
  return problems;
}
