import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { Sender } from './send.ts';
import {
  BLOCKED_URL_CODE,
  blockedRange,
  checkUrlSyntax,
  checkUrlTarget,
  guardedConnectLookup,
  isBlockedAddress,
  type Lookup,
} from './url-guard.ts';

// Public addresses below appear only as lookup answers: nothing here connects to them.
const PUBLIC = '93.184.216.34';

const BLOCKED: [string, string][] = [
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'linkLocal'],
  ['169.254.0.1', 'linkLocal'],
  ['100.64.0.1', 'carrierGradeNat'],
  ['100.127.255.254', 'carrierGradeNat'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['192.0.2.10', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fe80::1', 'linkLocal'],
  ['fe80::1%eth0', 'linkLocal'],
  ['fc00::1', 'uniqueLocal'],
  ['fd12:3456::1', 'uniqueLocal'],
  ['fd00:ec2::254', 'uniqueLocal'],
  ['ff02::1', 'multicast'],
  ['::ffff:127.0.0.1', 'ipv4Mapped loopback'],
  ['::ffff:7f00:1', 'ipv4Mapped loopback'],
  ['::ffff:169.254.169.254', 'ipv4Mapped linkLocal'],
  ['::ffff:10.1.1.1', 'ipv4Mapped private'],
  ['::ffff:0:192.168.0.1', 'rfc6145 private'],
  ['64:ff9b::10.0.0.1', 'rfc6052 private'],
  ['2002:7f00:1::1', '6to4 loopback'],
  ['2002:c0a8:101::1', '6to4 private'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'teredo loopback'],
  ['::7f00:1', 'ipv4Compatible'],
  ['2001:db8::1', 'reserved'],
  ['not-an-ip', 'invalid'],
];

const ALLOWED = [
  PUBLIC,
  '8.8.8.8',
  '1.1.1.1',
  '172.15.255.255',
  '172.32.0.1',
  '100.63.255.255',
  '100.128.0.1',
  '169.253.0.1',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2002:808:808::1',
];

describe('isBlockedAddress', () => {
  for (const [ip, range] of BLOCKED) {
    it(`blocks ${ip} (${range})`, () => {
      assert.equal(blockedRange(ip), range);
      assert.equal(isBlockedAddress(ip), true);
    });
  }
  it('allows public unicast addresses', () => {
    for (const ip of ALLOWED) assert.equal(isBlockedAddress(ip), false, ip);
  });
});

describe('checkUrlSyntax', () => {
  it('accepts http and https URLs', () => {
    for (const url of ['http://hooks.example.com/in', 'https://h.example:8443/a?b=c#d', 'http://[2606:4700::1]/']) {
      assert.equal(checkUrlSyntax(url), null, url);
    }
  });
  it('explains what is wrong with the others', () => {
    assert.match(checkUrlSyntax('not a url') ?? '', /not a valid URL/);
    assert.match(checkUrlSyntax('') ?? '', /not a valid URL/);
    assert.match(checkUrlSyntax('ftp://example.com/') ?? '', /http or https/);
    assert.match(checkUrlSyntax('file:///etc/passwd') ?? '', /http or https/);
    assert.match(checkUrlSyntax('javascript:alert(1)') ?? '', /http or https/);
    assert.match(checkUrlSyntax('https://user:pass@example.com/') ?? '', /credentials/);
    assert.match(checkUrlSyntax('https://user@example.com/') ?? '', /credentials/);
    assert.match(checkUrlSyntax('http://') ?? '', /not a valid URL|empty host/);
    for (const url of ['http://hooks.example.com:0/', 'https://h.example:000/in', 'http://[2606:4700::1]:0/']) {
      assert.match(checkUrlSyntax(url) ?? '', /port 0/, url);
    }
    assert.equal(checkUrlSyntax('http://hooks.example.com:1/'), null);
  });
});

const answers =
  (table: Record<string, string[]>): Lookup =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('checkUrlTarget', () => {
  const lookup = answers({
    'hooks.example': [PUBLIC, '2606:4700::1'],
    'internal.example': ['10.0.0.5'],
    'mixed.example': [PUBLIC, '127.0.0.1'],
    'metadata.example': ['fd00:ec2::254'],
    'empty.example': [],
  });

  it('accepts a host whose every address is public', async () => {
    assert.equal(await checkUrlTarget('https://hooks.example/in', false, lookup), null);
  });

  it('refuses a host with any blocked address, naming it', async () => {
    assert.match((await checkUrlTarget('https://internal.example/', false, lookup)) ?? '', /10\.0\.0\.5.*private/);
    assert.match((await checkUrlTarget('https://mixed.example/', false, lookup)) ?? '', /127\.0\.0\.1.*loopback/);
    assert.match((await checkUrlTarget('https://metadata.example/', false, lookup)) ?? '', /uniqueLocal/);
  });

  it('checks IP literals without a lookup', async () => {
    const never: Lookup = async () => assert.fail('no lookup for literals');
    assert.match((await checkUrlTarget('http://127.0.0.1:8080/', false, never)) ?? '', /loopback/);
    assert.match((await checkUrlTarget('http://[::1]/', false, never)) ?? '', /loopback/);
    assert.match((await checkUrlTarget('http://169.254.169.254/latest/meta-data', false, never)) ?? '', /linkLocal/);
    // WHATWG URL parsing turns these spellings into 127.0.0.1 first.
    assert.match((await checkUrlTarget('http://2130706433/', false, never)) ?? '', /loopback/);
    assert.match((await checkUrlTarget('http://0x7f.1/', false, never)) ?? '', /loopback/);
    assert.equal(await checkUrlTarget(`http://${PUBLIC}/`, false, never), null);
    assert.equal(await checkUrlTarget('http://127.0.0.1/', true, never), null);
  });

  it('resolves with the system resolver by default (localhost only)', async () => {
    assert.match((await checkUrlTarget('http://localhost:9/', false)) ?? '', /localhost resolves to .*loopback/);
  });

  it('lets private addresses through when allowed', async () => {
    assert.equal(await checkUrlTarget('http://internal.example/', true, lookup), null);
  });

  it('refuses unresolvable hosts and bad syntax even when private URLs are allowed', async () => {
    const unresolved = await checkUrlTarget('https://nowhere.example/', true, lookup);
    assert.match(unresolved ?? '', /could not be resolved \(ENOTFOUND\)/);
    assert.match((await checkUrlTarget('https://empty.example/', true, lookup)) ?? '', /no address/);
    assert.match((await checkUrlTarget('ftp://hooks.example/', true, lookup)) ?? '', /http or https/);
  });
});

function callLookup(
  fn: ReturnType<typeof guardedConnectLookup>,
  hostname: string,
  options: { family?: number; all?: boolean },
) {
  return new Promise<{ error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number }>(
    (resolve) => fn(hostname, options, (error, address, family) => resolve({ error, address, family })),
  );
}

describe('guardedConnectLookup', () => {
  const lookup = answers({ 'dual.example': [PUBLIC, '2606:4700::1'], 'rebound.example': ['127.0.0.1'] });

  it('answers in both net callback shapes, honouring family', async () => {
    const fn = guardedConnectLookup(false, lookup);
    assert.deepEqual(await callLookup(fn, 'dual.example', {}), { error: null, address: PUBLIC, family: 4 });
    assert.deepEqual(await callLookup(fn, 'dual.example', { family: 6 }), {
      error: null,
      address: '2606:4700::1',
      family: 6,
    });
    const all = await callLookup(fn, 'dual.example', { all: true });
    assert.deepEqual(all.address, [
      { address: PUBLIC, family: 4 },
      { address: '2606:4700::1', family: 6 },
    ]);
  });

  it('fails blocked answers with HERALD_BLOCKED_URL, unless allowed', async () => {
    const refused = await callLookup(guardedConnectLookup(false, lookup), 'rebound.example', { all: true });
    assert.equal(refused.error?.code, BLOCKED_URL_CODE);
    assert.match(refused.error?.message ?? '', /rebound\.example resolves to 127\.0\.0\.1/);
    const allowed = await callLookup(guardedConnectLookup(true, lookup), 'rebound.example', {});
    assert.deepEqual(allowed, { error: null, address: '127.0.0.1', family: 4 });
  });

  it('passes resolution errors through with their code', async () => {
    const failed = await callLookup(guardedConnectLookup(false, lookup), 'nowhere.example', {});
    assert.equal(failed.error?.code, 'ENOTFOUND');
  });
});

describe('DNS rebinding', () => {
  it('a name that was public at creation but now resolves to 127.0.0.1 is refused at connect', async () => {
    let hits = 0;
    const server = createServer((_req, res) => {
      hits++;
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let answer = PUBLIC;
    const rebinding: Lookup = async () => [{ address: answer, family: 4 }];
    const url = `http://rebind.example:${port}/hook`;
    const sender = new Sender({ allowPrivateUrls: false, lookup: rebinding, userAgent: 'Herald/test' });
    try {
      assert.equal(await checkUrlTarget(url, false, rebinding), null, 'looks public when the subscription is saved');
      answer = '127.0.0.1';
      const result = await sender.send({ url, headers: {}, body: '{}', timeoutMs: 2000 });
      assert.equal(result.kind, 'error');
      if (result.kind !== 'error') return;
      assert.equal(result.errorKind, 'blocked_url');
      assert.match(result.message, /127\.0\.0\.1.*loopback/);
      assert.equal(hits, 0);
    } finally {
      await sender.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
