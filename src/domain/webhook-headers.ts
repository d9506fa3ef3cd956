/**
 * What a subscription may add to the headers of its webhook requests: its `headers` and its static
 * secret header (`secretHeaderName`, `secretHeaderValue`). Judged when a subscription is created or
 * patched, so a header that could never be sent is a 400 then rather than a failure of every attempt.
 */

/** RFC 9110 token: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A field value as Node's http and undici send it: tab, visible ASCII, space and the Latin-1 range
 * 0x80-0xFF (each such character goes out as one byte). Everything else is refused by the client.
 */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Headers Herald sets on every webhook request (SPEC §5): a subscription must not replace them. */
export const HERALD_HEADERS: readonly string[] = [
  'content-type',
  'content-language',
  'user-agent',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
];

/**
 * Headers about the connection and message framing rather than the webhook: undici sets `host` and
 * `content-length` itself and throws on `connection` lists it does not like, `keep-alive`,
 * `transfer-encoding`, `upgrade` and `expect` (lib/core/request.js, processHeader). The other
 * hop-by-hop names (`te`, `trailer`, `proxy-*`, `http2-settings`) would reach a proxy or the
 * receiver's server, never the application, and could change how the request is framed.
 */
const CONNECTION_HEADERS: readonly string[] = [
  'host',
  'content-length',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'expect',
  'te',
  'trailer',
  'http2-settings',
];

/** Why `name` cannot be a header a subscription adds, or null when it can. */
export function headerNameProblem(name: string): string | null {
  if (!HEADER_NAME.test(name)) return 'is not a valid HTTP header name';
  const lower = name.toLowerCase();
  if (HERALD_HEADERS.includes(lower)) return `${lower} is set by Herald and may not be overridden`;
  if (CONNECTION_HEADERS.includes(lower) || lower.startsWith('proxy-')) {
    return `${lower} belongs to the HTTP connection, which Herald's client manages: it may not be set`;
  }
  return null;
}

/** Why `value` cannot be sent as a header value, or null when it can. */
export function headerValueProblem(value: string): string | null {
  if (HEADER_VALUE.test(value)) return null;
  return (
    'must contain only visible ASCII or Latin-1 characters, spaces and tabs ' +
    '(no CR, LF, NUL or other control characters)'
  );
}
