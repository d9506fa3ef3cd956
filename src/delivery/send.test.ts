import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { errorKindOf, Sender } from './send.ts';
import type { Lookup } from './url-guard.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function receiver(handler: Handler) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort ?? 0,
      });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function closedPort(): Promise<number> {
  const r = await receiver(() => undefined);
  await r.close();
  return r.port;
}

const sender = new Sender({ allowPrivateUrls: true, userAgent: 'Herald/test' });
after(() => sender.close());

/** An empty JSON POST to `url` through `via`. */
function post(via: Sender, url: string, headers: Record<string, string> = {}) {
  return via.send({ url, headers, body: '{}', timeoutMs: 2000 });
}

const HEADERS = {
  'content-type': 'application/cloudevents+json; charset=utf-8',
  'webhook-id': 'evt_01J',
  'webhook-timestamp': '1750000000',
  'webhook-signature': 'v1,abc= v1,def=',
  'content-language': 'en-US',
  'x-custom': 'Zoe',
};

describe('Sender', () => {
  it('POSTs the body with the headers as given and reports a 2xx', async () => {
    const r = await receiver((_req, res) => res.writeHead(200, { 'x-answer': 'yes' }).end('thanks'));
    try {
      const body = '{"data":"Zoë 🚀"}';
      const result = await sender.send({ url: `${r.url}/hooks/in?a=1&b=2`, headers: HEADERS, body, timeoutMs: 2000 });
      assert.equal(result.kind, 'response');
      if (result.kind !== 'response') return;
      assert.equal(result.status, 200);
      assert.equal(result.body, 'thanks');
      assert.equal(result.headers['x-answer'], 'yes');
      assert.ok(result.durationMs >= 0);
      const [got] = r.received;
      assert.ok(got);
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/hooks/in?a=1&b=2');
      assert.equal(got.body, body);
      for (const [name, value] of Object.entries(HEADERS)) assert.equal(got.headers[name], value, name);
      assert.equal(got.headers['user-agent'], 'Herald/test');
      assert.equal(got.headers['content-length'], String(Buffer.byteLength(body)));
    } finally {
      await r.close();
    }
  });

  it('lets the request override user-agent', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end());
    try {
      const result = await post(sender, r.url, { 'User-Agent': 'Custom/1' });
      assert.equal(result.kind === 'response' && result.status, 204);
      assert.equal(r.received[0]?.headers['user-agent'], 'Custom/1');
    } finally {
      await r.close();
    }
  });

  it('keeps exactly the first 4096 bytes of a long body, and reuses the connection', async () => {
    const r = await receiver((_req, res) => res.writeHead(500).end('e'.repeat(10 * 1024)));
    try {
      const first = await post(sender, r.url);
      assert.equal(first.kind, 'response');
      if (first.kind !== 'response') return;
      assert.equal(first.status, 500);
      assert.equal(Buffer.byteLength(first.body), 4096);
      assert.equal(first.body, 'e'.repeat(4096));
      // undici hands the connection back to its pool a tick after the body ends.
      await new Promise((resolve) => setImmediate(resolve));
      await post(sender, r.url);
      assert.equal(r.received[0]?.remotePort, r.received[1]?.remotePort, 'same keep-alive connection');
    } finally {
      await r.close();
    }
  });

  it('gives up on a huge body after the kept part without waiting for it all', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('é'.repeat(3000)); // 6000 bytes: the 4096-byte cut falls inside no character
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 100 && res.write(chunk)) sent++;
        if (sent < 100) res.once('drain', pump);
        else res.end();
      };
      pump();
    });
    try {
      const result = await sender.send({ url: r.url, headers: {}, body: '{}', timeoutMs: 5000 });
      assert.equal(result.kind, 'response');
      if (result.kind !== 'response') return;
      assert.equal(result.body, 'é'.repeat(2048));
    } finally {
      await r.close();
    }
  });

  it('drops a character cut in half at the 4096-byte limit', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end(`x${'é'.repeat(3000)}`));
    try {
      const result = await post(sender, r.url);
      assert.equal(result.kind === 'response' && result.body, `x${'é'.repeat(2047)}`);
    } finally {
      await r.close();
    }
  });

  it('times out a receiver that never answers, close to timeoutMs', async () => {
    const r = await receiver(() => undefined);
    try {
      const result = await sender.send({ url: r.url, headers: {}, body: '{}', timeoutMs: 300 });
      assert.equal(result.kind, 'error');
      if (result.kind !== 'error') return;
      assert.equal(result.errorKind, 'timeout');
      assert.ok(result.durationMs >= 250 && result.durationMs < 1300, `durationMs ${result.durationMs}`);
    } finally {
      await r.close();
    }
  });

  it('times out a receiver that sends headers and then stalls the body', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    try {
      const result = await sender.send({ url: r.url, headers: {}, body: '{}', timeoutMs: 300 });
      assert.equal(result.kind === 'error' && result.errorKind, 'timeout');
      assert.ok(result.durationMs < 1300, `durationMs ${result.durationMs}`);
    } finally {
      await r.close();
    }
  });

  it('reports a closed port as refused', async () => {
    const port = await closedPort();
    const result = await post(sender, `http://127.0.0.1:${port}/`);
    assert.equal(result.kind === 'error' && result.errorKind, 'refused');
  });

  it('does not follow redirects', async () => {
    const r = await receiver((req, res) => {
      if (req.url === '/start') res.writeHead(302, { location: '/target' }).end();
      else res.writeHead(200).end('followed');
    });
    try {
      const result = await post(sender, `${r.url}/start`);
      assert.equal(result.kind, 'response');
      if (result.kind !== 'response') return;
      assert.equal(result.status, 302);
      assert.equal(result.headers.location, '/target');
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(
        r.received.map((x) => x.url),
        ['/start'],
      );
    } finally {
      await r.close();
    }
  });

  it('reports a failed name resolution as dns', async () => {
    const lookup: Lookup = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    };
    const dnsSender = new Sender({ allowPrivateUrls: true, lookup, userAgent: 'Herald/test' });
    try {
      const result = await dnsSender.send({ url: 'http://hooks.invalid/in', headers: {}, body: '{}', timeoutMs: 2000 });
      assert.equal(result.kind, 'error');
      if (result.kind !== 'error') return;
      assert.equal(result.errorKind, 'dns');
      assert.match(result.message, /ENOTFOUND/);
    } finally {
      await dnsSender.close();
    }
  });

  it('connects to the address the injected lookup gives', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end());
    const lookup: Lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const named = new Sender({ allowPrivateUrls: true, lookup, userAgent: 'Herald/test' });
    try {
      const result = await post(named, `http://hooks.test:${r.port}/`);
      assert.equal(result.kind === 'response' && result.status, 204);
      assert.equal(r.received[0]?.headers.host, `hooks.test:${r.port}`);
    } finally {
      await named.close();
      await r.close();
    }
  });

  it('reports TLS failures as tls', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    try {
      const result = await post(sender, `https://127.0.0.1:${r.port}/`);
      assert.equal(result.kind === 'error' && result.errorKind, 'tls', JSON.stringify(result));
    } finally {
      await r.close();
    }
  });

  it('refuses private IP literals and bad URLs without connecting unless private URLs are allowed', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end());
    const strict = new Sender({ allowPrivateUrls: false, userAgent: 'Herald/test' });
    try {
      const urls = [r.url, `http://[::ffff:127.0.0.1]:${r.port}/`, 'ftp://example.test/', 'http://u:p@example.test/'];
      for (const url of urls) {
        const result = await post(strict, url);
        assert.equal(result.kind === 'error' && result.errorKind, 'blocked_url', url);
      }
      assert.equal(r.received.length, 0);
    } finally {
      await strict.close();
      await r.close();
    }
  });
});

describe('errorKindOf', () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });
  it('maps codes, causes and aggregate errors', () => {
    assert.equal(errorKindOf(coded('UND_ERR_HEADERS_TIMEOUT')), 'timeout');
    assert.equal(errorKindOf(coded('UND_ERR_BODY_TIMEOUT')), 'timeout');
    assert.equal(errorKindOf(coded('EAI_AGAIN')), 'dns');
    assert.equal(errorKindOf(new Error('wrapped', { cause: coded('ECONNREFUSED') })), 'refused');
    assert.equal(errorKindOf(new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')])), 'refused');
    assert.equal(errorKindOf(coded('DEPTH_ZERO_SELF_SIGNED_CERT')), 'tls');
    assert.equal(errorKindOf(coded('ERR_TLS_CERT_ALTNAME_INVALID')), 'tls');
    assert.equal(errorKindOf(coded('HERALD_BLOCKED_URL')), 'blocked_url');
    assert.equal(errorKindOf(coded('ECONNRESET')), 'network');
    assert.equal(errorKindOf('weird'), 'network');
  });
});
