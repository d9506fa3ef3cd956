/**
 * `herald serve` applies the HTTP limits it reads from HERALD_* variables (not only buildApp when a
 * test passes them). HTTP-layer only, so one dialect: SQLite, the default store.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type HeraldProcess, startHerald } from '../../src/testing/herald-process.ts';
import { RawConnection, destroyAllConnections } from '../../src/testing/raw-http.ts';
import { type TestDatabase, createTestDatabase } from '../../src/testing/test-store.ts';

let database: TestDatabase;
let herald: HeraldProcess;

before(async () => {
  database = await createTestDatabase('sqlite');
  herald = await startHerald(database.url, {
    HERALD_HEADERS_TIMEOUT_MS: '300',
    HERALD_REQUEST_TIMEOUT_MS: '400',
    HERALD_MAX_REQUESTS_PER_CONNECTION: '2',
  });
});

after(async () => {
  destroyAllConnections();
  await herald?.stop();
  await database?.drop();
});

test('a slowloris client gets a 408 problem+json at HERALD_HEADERS_TIMEOUT_MS', async () => {
  const connection = await RawConnection.open(herald.port);
  connection.drip('GET /healthz HTTP/1.1\r\nhost: herald.test\r\nx-padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n', 20);
  const answer = await connection.answer(4000);
  assert.equal(answer.status, 408);
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(answer.body.type, 'https://herald.dev/errors#request_timeout');
  const elapsed = Date.now() - connection.openedAt;
  assert.ok(elapsed >= 300 * 0.9);
});

test('the answer to the last request HERALD_MAX_REQUESTS_PER_CONNECTION allows says connection: close', async () => {
  const connection = await RawConnection.open(herald.port);
  const statuses: string[] = [];
  for (let i = 0; i < 2; i++) {
    connection.write('GET /healthz HTTP/1.1\r\nhost: herald.test\r\n\r\n');
    statuses.push(String((await connection.answer()).headers.connection));
  }
  assert.deepEqual(statuses, ['keep-alive', 'close']);
  assert.ok(await connection.closedWithin(4000));
});
