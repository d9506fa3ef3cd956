import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { renderBody } from '../delivery/render.ts';
import { newSigningSecret, signPayload } from '../delivery/sign.ts';
import { type Listener, PRINT_LIMIT, startListener } from './listen.ts';

const secret = newSigningSecret();
const printed: string[] = [];
let listener: Listener;

before(async () => {
  listener = await startListener({ port: 0, secret, print: (line) => printed.push(line) });
});
after(() => listener.close());

const cloudEvent = renderBody({
  event: {
    id: 'evt_01JLISTEN',
    type: 'customer.created',
    source: null,
    subject: null,
    time: Date.now(),
    dataJson: '{"name":"Zoë"}',
    context: [],
  },
  topic: 'customers',
  environmentId: 'env_1',
  format: 'cloudevents',
});

async function post(body: string, headers: Record<string, string>, port = listener.port) {
  const response = await fetch(`http://127.0.0.1:${port}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

function signed(body: string, id = 'evt_01JLISTEN', timestamp = Math.floor(Date.now() / 1000), key = secret) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signPayload(key, id, timestamp, body),
  };
}

describe('herald listen', () => {
  it('answers 204 to a correctly signed delivery and prints a ✓ line with id and type', async () => {
    printed.length = 0;
    const { status } = await post(cloudEvent.body, signed(cloudEvent.body));
    assert.equal(status, 204);
    assert.equal(printed.length, 1);
    const [summary, ...rest] = (printed[0] as string).split('\n');
    assert.match(summary as string, /^\d{4}-\d\d-\d\dT[\d:.]+Z ✓ evt_01JLISTEN customer\.created$/);
    assert.match(rest.join('\n'), /^ {2}\{\n {4}"specversion": "1\.0",/);
    assert.match(rest.join('\n'), /"name": "Zoë"/);
  });

  it('answers 401 and prints ✗ for a bad signature', async () => {
    printed.length = 0;
    const headers = signed(cloudEvent.body, 'evt_01JLISTEN', Math.floor(Date.now() / 1000), newSigningSecret());
    const { status, text } = await post(cloudEvent.body, headers);
    assert.equal(status, 401);
    assert.match(text, /signature does not match/);
    assert.match(printed[0] as string, /^\S+ ✗ \(signature does not match\) evt_01JLISTEN customer\.created\n/);
  });

  it('answers 401 to a tampered body, a stale timestamp or missing headers', async () => {
    const headers = signed(cloudEvent.body);
    assert.equal((await post(cloudEvent.body.replace('Zoë', 'Zoe'), headers)).status, 401);
    const hourAgo = Math.floor(Date.now() / 1000) - 3600;
    const stale = await post(cloudEvent.body, signed(cloudEvent.body, 'evt_01JLISTEN', hourAgo));
    assert.equal(stale.status, 401);
    assert.match(stale.text, /not within 300s/);
    const bare = await post(cloudEvent.body, {});
    assert.equal(bare.status, 401);
    assert.match(bare.text, /missing webhook-id/);
  });

  it('prints non-CloudEvents bodies as they are, and cuts long ones', async () => {
    printed.length = 0;
    const plain = 'hello, not json';
    assert.equal((await post(plain, signed(plain, 'msg_1'))).status, 204);
    assert.match(printed[0] as string, /^\S+ ✓ msg_1\n {2}hello, not json$/);
    const long = JSON.stringify({ blob: 'x'.repeat(10_000) });
    assert.equal((await post(long, signed(long, 'msg_2'))).status, 204);
    const entry = printed[1] as string;
    assert.ok(entry.length < PRINT_LIMIT + 200, `printed ${entry.length} characters`);
    assert.match(entry, /… \(\d+ more characters\)$/);
  });

  it('names batches and answers the configured status', async () => {
    const other = await startListener({ port: 0, secret, status: 200, print: (line) => printed.push(line) });
    try {
      printed.length = 0;
      const batch = `[${cloudEvent.body},${cloudEvent.body}]`;
      assert.equal((await post(batch, signed(batch, 'bat_1'), other.port)).status, 200);
      assert.match(printed[0] as string, /✓ bat_1 batch of 2: customer\.created\n/);
    } finally {
      await other.close();
    }
  });

  it('refuses an invalid secret up front', async () => {
    await assert.rejects(startListener({ port: 0, secret: 'nope', print: () => undefined }), TypeError);
  });
});
