/** Attempts made on the sender thread: results find their attempts, failures keep their kinds, a dead thread is replaced. */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ThreadedSender } from './threaded-sender.ts';

let url = '';
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const path = req.url ?? '/';
    if (path.startsWith('/slow')) setTimeout(() => res.writeHead(200).end('late'), 300);
    else if (path.startsWith('/hang')) return;
    else res.writeHead(Number(path.slice(1, 4)) || 204, { 'x-path': path }).end(path);
  });
});
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const post = (via: ThreadedSender, path: string, body = '{}', timeoutMs = 2000) => via.send({ url: `${url}${path}`, headers: {}, body, timeoutMs });

describe('ThreadedSender', () => {
  it('answers each of many concurrent attempts with its own result', async () => {
    const sender = new ThreadedSender({ allowPrivateUrls: true, userAgent: 'Herald/test' });
    try {
      // Not 204 or 205: those carry no body.
      const statuses = Array.from({ length: 300 }, (_, i) => [200, 201, 202, 203, 299][i % 5] as number);
      const results = await Promise.all(statuses.map((status, i) => post(sender, `/${status}/${i}`)));
      results.forEach((result, i) => {
        assert.equal(result.kind, 'response');
        if (result.kind !== 'response') return;
        assert.equal(result.status, statuses[i]);
        assert.equal(result.body, `/${statuses[i]}/${i}`);
        assert.equal(result.headers['x-path'], `/${statuses[i]}/${i}`);
      });
    } finally {
      await sender.close();
    }
  });

  it('keeps the kinds of failed attempts: timeout, blocked_url', async () => {
    const open = new ThreadedSender({ allowPrivateUrls: true, userAgent: 'Herald/test' });
    const strict = new ThreadedSender({ allowPrivateUrls: false, userAgent: 'Herald/test' });
    try {
      const timedOut = await post(open, '/hang', '{}', 200);
      assert.equal(timedOut.kind, 'error');
      if (timedOut.kind === 'error') assert.equal(timedOut.errorKind, 'timeout');
      const blocked = await post(strict, '/204');
      assert.equal(blocked.kind, 'error');
      if (blocked.kind === 'error') assert.equal(blocked.errorKind, 'blocked_url');
    } finally {
      await open.close();
      await strict.close();
    }
  });

  it('fails what a dying thread held as network errors, and sends on through a new thread', async () => {
    const dying = new URL('../testing/dying-send-thread.ts', import.meta.url);
    const sender = new ThreadedSender({ allowPrivateUrls: true, userAgent: 'Herald/test' }, dying);
    try {
      const inFlight = post(sender, '/slow');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const killer = await post(sender, '/204', 'die');
      const lost = await inFlight;
      for (const result of [lost, killer]) {
        assert.equal(result.kind, 'error');
        if (result.kind === 'error') assert.equal(result.errorKind, 'network');
      }
      const after = await post(sender, '/201');
      assert.equal(after.kind === 'response' && after.status, 201);
    } finally {
      await sender.close();
    }
  });

  it('a thread that cannot start fails each attempt, and is not restarted in a tight loop', async () => {
    const failing = new URL('../testing/failing-send-thread.ts', import.meta.url);
    const sender = new ThreadedSender({ allowPrivateUrls: true, userAgent: 'Herald/test' }, failing);
    try {
      const started = Date.now();
      for (let i = 0; i < 3; i++) {
        const result = await post(sender, '/204');
        assert.equal(result.kind === 'error' && result.errorKind, 'network');
      }
      // Each death within a second of its start holds the next start back a second.
      assert.ok(Date.now() - started >= 1500, `three failed starts took ${Date.now() - started} ms`);
    } finally {
      await sender.close();
    }
  });

  it('close waits for the attempts in flight', async () => {
    const sender = new ThreadedSender({ allowPrivateUrls: true, userAgent: 'Herald/test' });
    const slow = post(sender, '/slow');
    let answered = false;
    void slow.then(() => {
      answered = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await sender.close();
    assert.equal(answered, true);
    const result = await slow;
    assert.equal(result.kind === 'response' && result.body, 'late');
  });
});
