/**
 * SPEC §7: requests have header, body and idle timeouts, and no client can hold the server's
 * connections without bound. A real server on 127.0.0.1 and raw sockets, because these are things
 * no well-behaved client (nor app.inject) does. Bounds are small so the tests are quick; upper
 * bounds are generous so a loaded machine does not make them flaky.
 */
import assert from 'node:assert/strict';
import { afterEach, before, test } from 'node:test';
import { assertProblem } from '../../src/testing/assertions.ts';
import { RawConnection, destroyAllConnections, listenOnLoopback, waitForConnections } from '../../src/testing/raw-http.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

const HEADERS_TIMEOUT_MS = 250;
const REQUEST_TIMEOUT_MS = 400;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
const MAX_REQUESTS = 3;
const MAX_CONNECTIONS = 6;
/** Far above every bound here: only a server that never cuts the client in reasonable time fails. */
const GENEROUS_MS = 4000;

const get = (path: string) => `GET ${path} HTTP/1.1\r\nhost: herald.test\r\n\r\n`;

function assertAnsweredTimeout(answer: Awaited<ReturnType<RawConnection['answer']>>): void {
  assertProblem(answer, 408);
  assert.equal(answer.body.type, 'https://herald.dev/errors#request_timeout');
  assert.equal(answer.headers.connection, 'close');
}

describeApi(
  'HTTP limits',
  (api) => {
    let port = 0;
    let admin: Caller;
    before(async () => {
      port = await listenOnLoopback(api().app);
      admin = await api().environment();
    });
    afterEach(destroyAllConnections);
    const categoryCount = async () => (await api().call('GET', '/v1/categories', { as: admin })).body.data.length;

    test('a valid key that sends headers and part of a body, then nothing, gets a 408 and the connection closes', async () => {
      const connection = await RawConnection.open(port);
      connection.write(
        'POST /v1/categories HTTP/1.1\r\nhost: herald.test\r\ncontent-type: application/json\r\n' +
          `x-environment-id: ${admin.environmentId}\r\nx-auth-token: ${admin.key}\r\n` +
          'content-length: 100\r\n\r\n{"name":"slow',
      );
      const answer = await connection.answer(GENEROUS_MS);
      const elapsed = Date.now() - connection.openedAt;
      assertAnsweredTimeout(answer);
      assert.ok(elapsed >= REQUEST_TIMEOUT_MS * 0.9, `answered after ${elapsed} ms, before the request timeout`);
      assert.ok(await connection.closedWithin(GENEROUS_MS), 'the connection stays open after the 408');
      assert.equal(await categoryCount(), 0);
    });

    test('headers sent a byte at a time (slowloris) get a 408 at the header timeout, not at the idle one', async () => {
      const connection = await RawConnection.open(port);
      connection.drip(`GET /healthz HTTP/1.1\r\nhost: herald.test\r\nx-padding: ${'a'.repeat(500)}\r\n\r\n`, 20);
      const answer = await connection.answer(GENEROUS_MS);
      const elapsed = Date.now() - connection.openedAt;
      assertAnsweredTimeout(answer);
      assert.ok(elapsed >= HEADERS_TIMEOUT_MS * 0.9, `answered after ${elapsed} ms`);
      assert.ok(await connection.closedWithin(GENEROUS_MS));
    });

    test('a connection that sends nothing is closed at the header timeout, without an answer', async () => {
      const connection = await RawConnection.open(port);
      assert.ok(await connection.closedWithin(GENEROUS_MS), 'an idle new connection is kept open');
      assert.ok((connection.closedAfterMs as number) >= HEADERS_TIMEOUT_MS * 0.9);
      assert.equal(connection.unread(), '');
    });

    test('an idle keep-alive connection is closed after the keep-alive timeout it announces', async () => {
      const connection = await RawConnection.open(port);
      connection.write(get('/healthz'));
      const answer = await connection.answer();
      assert.equal(answer.status, 200);
      assert.match(String(answer.headers['keep-alive']), new RegExp(`^timeout=${KEEP_ALIVE_TIMEOUT_MS / 1000}\\b`));
      const answeredAfter = Date.now() - connection.openedAt;
      assert.ok(await connection.closedWithin(KEEP_ALIVE_TIMEOUT_MS + GENEROUS_MS), 'idle connection kept open');
      // Not before the announced timeout: a client reusing the connection inside it must be served.
      assert.ok((connection.closedAfterMs as number) - answeredAfter >= KEEP_ALIVE_TIMEOUT_MS * 0.9);
    });

    test(`after ${MAX_REQUESTS} requests on one connection the last answer says connection: close, and it closes`, async () => {
      const connection = await RawConnection.open(port);
      for (let i = 1; i <= MAX_REQUESTS; i++) {
        connection.write(get('/healthz'));
        const answer = await connection.answer();
        assert.equal(answer.status, 200);
        assert.equal(answer.headers.connection, i < MAX_REQUESTS ? 'keep-alive' : 'close', `request ${i}`);
      }
      // Sooner than the keep-alive timeout would (Node closes an idle socket 1 s after the one announced).
      assert.ok(await connection.closedWithin(KEEP_ALIVE_TIMEOUT_MS), 'the connection stays open past the request limit');
    });

    test(`connections past ${MAX_CONNECTIONS} are closed unanswered; a freed slot is served again`, async () => {
      // Connections of the tests before may still be closing on the server's side.
      await waitForConnections(api().app.server, 0);
      const held: RawConnection[] = [];
      try {
        for (let i = 0; i < MAX_CONNECTIONS; i++) {
          const connection = await RawConnection.open(port);
          held.push(connection);
          connection.write(get('/healthz'));
          assert.equal((await connection.answer()).status, 200, `connection ${i + 1} is served`);
        }
        const extra = await RawConnection.open(port);
        extra.write(get('/healthz'));
        assert.ok(await extra.closedWithin(GENEROUS_MS), 'the connection over the cap is served');
        assert.equal(extra.unread(), '');

        (held.shift() as RawConnection).destroy();
        await waitForConnections(api().app.server, MAX_CONNECTIONS - 1);
        const next = await RawConnection.open(port);
        held.push(next);
        next.write(get('/healthz'));
        assert.equal((await next.answer()).status, 200);
      } finally {
        for (const connection of held) connection.destroy();
        await waitForConnections(api().app.server, 0);
      }
    });

    test('headers over 16 KiB get a 431 problem+json with a correct content-length', async () => {
      const connection = await RawConnection.open(port);
      connection.write(`GET /healthz HTTP/1.1\r\nhost: herald.test\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
      const [answer, ...more] = await connection.answersUntilClosed(GENEROUS_MS);
      assert.ok(answer, 'no answer');
      assertProblem(answer, 431);
      assert.equal(answer.body.type, 'https://herald.dev/errors#headers_too_large');
      assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(JSON.stringify(answer.body)));
      assert.deepEqual(more, []);
      assert.equal(connection.unread(), '', 'bytes after the announced content-length');
    });

    test('a content-length that does not match the body, or conflicts, is a 400 problem+json, changing nothing', async () => {
      const auth = `x-environment-id: ${admin.environmentId}\r\nx-auth-token: ${admin.key}\r\n`;
      const post = `POST /v1/categories HTTP/1.1\r\nhost: herald.test\r\ncontent-type: application/json\r\n${auth}`;
      const body = '{"name":"mismatch"}';
      const cases: [string, string, boolean][] = [
        ['body longer than its content-length', `${post}content-length: 2\r\n\r\n${body}`, false],
        ['body shorter than its content-length, then the end', `${post}content-length: 100\r\n\r\n${body}`, true],
        ['content-length not a number', `${post}content-length: 19x\r\n\r\n${body}`, false],
        ['two content-lengths', `${post}content-length: 19\r\ncontent-length: 20\r\n\r\n${body}`, false],
        ['content-length and chunked', `${post}content-length: 19\r\ntransfer-encoding: chunked\r\n\r\n13\r\n${body}\r\n0\r\n\r\n`, false],
      ];
      for (const [label, request, thenEnd] of cases) {
        const connection = await RawConnection.open(port);
        connection.write(request);
        if (thenEnd) connection.socket.end();
        const answers = await connection.answersUntilClosed(GENEROUS_MS);
        const last = answers.at(-1);
        assert.ok(last, `${label}: no answer`);
        for (const answer of answers) assertProblem(answer, 400, label);
        assert.equal(last.body.type, 'https://herald.dev/errors#malformed_request', label);
        assert.equal(connection.unread(), '', `${label}: bytes after the announced content-length`);
      }
      assert.equal(await categoryCount(), 0);
    });
  },
  {
    httpLimits: {
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: KEEP_ALIVE_TIMEOUT_MS,
      maxRequestsPerConnection: MAX_REQUESTS,
      maxConnections: MAX_CONNECTIONS,
    },
  },
);

describeApi(
  'HTTP limits: socket timeout',
  (api) => {
    afterEach(destroyAllConnections);
    test('a connection on which nothing moves is closed at the socket timeout, long before the header timeout', async () => {
      const port = await listenOnLoopback(api().app);
      const connection = await RawConnection.open(port);
      connection.write('GET /healthz HTTP/1.1\r\nhost: herald.test\r\n');
      assert.ok(await connection.closedWithin(GENEROUS_MS), 'a silent connection is kept open');
      assert.ok((connection.closedAfterMs as number) >= 300 * 0.9, `closed after ${connection.closedAfterMs} ms`);
    });
  },
  { httpLimits: { headersTimeoutMs: 30_000, requestTimeoutMs: 30_000, socketTimeoutMs: 300 } },
);
