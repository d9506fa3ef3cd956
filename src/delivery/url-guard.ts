/**
 * The URL guard (SPEC §7): subscription URLs must not reach Herald's own network. Checked once
 * when a subscription is saved (checkUrlTarget) and again on every connect
 * (guardedConnectLookup), because a name that resolved to a public address yesterday may
 * resolve to 127.0.0.1 now (DNS rebinding).
 */
import { promises as dns, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Resolves a host name to every address it has; injectable so tests never touch real DNS. */
export type Lookup = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const defaultLookup: Lookup = (hostname) => dns.lookup(hostname, { all: true });

/** `code` of the error a guarded connect fails with. */
export const BLOCKED_URL_CODE = 'HERALD_BLOCKED_URL';

/** Why a URL cannot be a subscription URL at all, or null when its syntax is fine. */
export function checkUrlSyntax(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'must use http or https';
  if (parsed.username !== '' || parsed.password !== '') return 'must not contain credentials (user:pass@)';
  if (parsed.hostname === '') return 'has an empty host';
  // Port 0 means "any free port" to a listener; as a destination nothing can answer on it.
  if (parsed.port === '0') return 'must not use port 0';
  return null;
}

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

// Only ordinary unicast is allowed; every special-purpose IPv4 range ipaddr.js knows is refused
// (loopback, private, linkLocal incl. 169.254.169.254, carrierGradeNat, broadcast, reserved, …).
function v4Range(ip: ipaddr.IPv4): string | null {
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

function v4At(parts: number[], index: number): ipaddr.IPv4 {
  const high = parts[index] as number;
  const low = parts[index + 1] as number;
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

// IPv6 ranges that carry an IPv4 address inside: judged by the address they lead to.
function embeddedV4(ip: ipaddr.IPv6, range: string): ipaddr.IPv4 | null {
  const parts = ip.parts;
  switch (range) {
    case 'ipv4Mapped': // ::ffff:a.b.c.d
    case 'rfc6145': // ::ffff:0:a.b.c.d
    case 'rfc6052': // 64:ff9b::a.b.c.d (NAT64)
      return v4At(parts, 6);
    case '6to4': // 2002:aabb:ccdd::/48
      return v4At(parts, 1);
    case 'teredo': {
      // The client address sits in the last 32 bits, inverted.
      const client = v4At(parts, 6);
      return new ipaddr.IPv4(client.octets.map((octet) => octet ^ 0xff));
    }
    default:
      return null;
  }
}

function v6Range(ip: ipaddr.IPv6): string | null {
  const range = ip.range();
  // ipaddr.js calls the deprecated IPv4-compatible ::a.b.c.d "unicast"; nothing legitimate uses it.
  if (range === 'unicast' && ip.parts.slice(0, 6).every((part) => part === 0)) return 'ipv4Compatible';
  if (range === 'unicast') return null;
  const inner = embeddedV4(ip, range);
  if (inner) {
    const innerRange = v4Range(inner);
    return innerRange === null ? null : `${range} ${innerRange}`;
  }
  return range;
}

/**
 * Names the special-purpose range an address belongs to (`loopback`, `private`, `linkLocal`,
 * `uniqueLocal`, `ipv4Mapped loopback`, …), or null for an ordinary public unicast address.
 * Anything that does not parse as an address is reported as `invalid`.
 */
export function blockedRange(ip: string): string | null {
  let parsed: Parsed;
  try {
    parsed = ipaddr.parse(ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip);
  } catch {
    return 'invalid';
  }
  return parsed.kind() === 'ipv4' ? v4Range(parsed as ipaddr.IPv4) : v6Range(parsed as ipaddr.IPv6);
}

/** True when Herald must not connect to `ip` unless HERALD_ALLOW_PRIVATE_URLS is set. */
export function isBlockedAddress(ip: string): boolean {
  return blockedRange(ip) !== null;
}

function blockedReason(host: string, address: string, range: string): string {
  const resolved = host === address ? address : `${host} resolves to ${address}`;
  // No hint about HERALD_ALLOW_PRIVATE_URLS: subscribers see this text and cannot act on it.
  return `${resolved}, a ${range} address, which webhooks may not target`;
}

/** The host of a parsed URL without IPv6 brackets, as `net` and DNS want it. */
export function hostOf(url: URL): string {
  const host = url.hostname;
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * For a URL whose host is an IP literal, the reason it is blocked (or null). Connects to IP
 * literals never go through a lookup, so the sender checks them with this before connecting.
 */
export function checkLiteralHost(url: URL, allowPrivate: boolean): string | null {
  const host = hostOf(url);
  if (allowPrivate || isIP(host) === 0) return null;
  const range = blockedRange(host);
  return range === null ? null : blockedReason(host, host, range);
}

/**
 * Whether a subscription may use `url`: syntax, then every address its host resolves to.
 * Resolution failures are reasons too, even with `allowPrivate`, so a typo is caught at creation.
 *
 * @returns null when fine, else a reason fit to show the user.
 */
export async function checkUrlTarget(
  url: string,
  allowPrivate: boolean,
  lookup: Lookup = defaultLookup,
): Promise<string | null> {
  const syntax = checkUrlSyntax(url);
  if (syntax !== null) return `URL ${syntax}`;
  const host = hostOf(new URL(url));
  if (isIP(host) !== 0) return checkLiteralHost(new URL(url), allowPrivate);
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return `host ${host} could not be resolved${code ? ` (${code})` : ''}`;
  }
  if (addresses.length === 0) return `host ${host} has no address`;
  if (allowPrivate) return null;
  for (const { address } of addresses) {
    const range = blockedRange(address);
    if (range !== null) return blockedReason(host, address, range);
  }
  return null;
}

/** An error carrying `code: 'HERALD_BLOCKED_URL'`, so the sender can tell it from network errors. */
export class BlockedUrlError extends Error {
  readonly code = BLOCKED_URL_CODE;
  constructor(message: string) {
    super(message);
    this.name = 'BlockedUrlError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** The `lookup` option of `net.connect` / undici's `connect`. */
export type ConnectLookup = (
  hostname: string,
  options: { family?: number | string; all?: boolean },
  callback: LookupCallback,
) => void;

/**
 * A `connect.lookup` that resolves with `lookup` and refuses to hand a blocked address to the
 * socket (unless `allowPrivate`): the check happens on the very answer the connection uses, so a
 * rebinding DNS server cannot slip a private address in after the creation-time check.
 * Any blocked address in the answer refuses the whole connect, as checkUrlTarget does.
 */
export function guardedConnectLookup(allowPrivate: boolean, lookup: Lookup = defaultLookup): ConnectLookup {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    lookup(hostname).then(
      (answer) => {
        if (!allowPrivate) {
          for (const { address } of answer) {
            const range = blockedRange(address);
            if (range !== null) return callback(new BlockedUrlError(blockedReason(hostname, address, range)), '');
          }
        }
        const usable = family === 4 || family === 6 ? answer.filter((a) => a.family === family) : answer;
        if (usable.length === 0) {
          const error: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
          error.code = 'ENOTFOUND';
          return callback(error, '');
        }
        if (options.all) return callback(null, usable.map(({ address, family: f }) => ({ address, family: f })));
        const first = usable[0] as { address: string; family: number };
        callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}
