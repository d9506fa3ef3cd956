import { randomBytes, randomFillSync } from 'node:crypto';

/** Prefixes of the ids Herald makes: the prefix says what an id names, the ULID makes it time-sortable. */
export type IdPrefix = 'env' | 'key' | 'app' | 'sub' | 'evt' | 'dlv' | 'att' | 'bat' | 'msg';

/**
 * Monotonic ULIDs (https://github.com/ulid/spec), as the `ulid` package's monotonicFactory makes
 * them: 10 base-32 digits of milliseconds, then 16 of randomness; within one millisecond (or when
 * asked for an earlier one) the previous id's random part plus one. Made here because a publish
 * call makes one id per delivery, and the package drew 16 separate crypto calls per new
 * millisecond and rebuilt its strings digit by digit; this one draws random bytes 64 ids at a time.
 */
const ENCODING = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_LEN = 10;
const RANDOM_LEN = 16;
const TIME_MAX = 2 ** 48 - 1;

/** Random bytes for the next fresh random parts; 256 is a multiple of 32, so `byte & 31` is uniform. */
const pool = Buffer.alloc(RANDOM_LEN * 64);
let poolAt = pool.length;

let lastTime = 0;
let timeText = '';
/** The last random part, one base-32 digit (0..31) per element. */
const random = new Uint8Array(RANDOM_LEN);

function encodeTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms > TIME_MAX) throw new Error(`cannot make an id for time ${ms}`);
  let text = '';
  for (let i = 0, rest = ms; i < TIME_LEN; i++, rest = Math.floor(rest / 32)) text = ENCODING[rest % 32] + text;
  return text;
}

function freshRandom(): void {
  if (poolAt + RANDOM_LEN > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  for (let i = 0; i < RANDOM_LEN; i++) random[i] = (pool[poolAt++] as number) & 31;
}

function incrementRandom(): void {
  for (let i = RANDOM_LEN - 1; i >= 0; i--) {
    if ((random[i] as number) < 31) {
      random[i] = (random[i] as number) + 1;
      return;
    }
    random[i] = 0;
  }
  // 2^80 ids in one millisecond: as the package does, refuse rather than repeat an id.
  throw new Error('cannot make another id in this millisecond');
}

function nextUlid(seedTime: number): string {
  const seed = !seedTime || Number.isNaN(seedTime) ? Date.now() : seedTime;
  if (seed <= lastTime && timeText !== '') {
    incrementRandom();
  } else {
    timeText = encodeTime(seed);
    lastTime = seed;
    freshRandom();
  }
  let text = timeText;
  for (let i = 0; i < RANDOM_LEN; i++) text += ENCODING[random[i] as number];
  return text;
}

export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  return `${prefix}_${nextUlid(nowMs)}`;
}

/** URL-safe random text of `bytes` random bytes. */
export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}
