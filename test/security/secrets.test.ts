/**
 * Secrets at rest (SPEC §7): a subscriber key sends secret values shaped like Herald's stored
 * ciphertext (`enc:v1:…`) or its plaintext tag (`plain:…`). Whatever it sends is stored tagged as
 * plaintext or encrypted, and is read and delivered as sent: lists, GET, PATCH, disable and
 * deliveries answer, and a real receiver gets the header value as sent. With the key unset and
 * set; with it set, also for values sent while it was still unset (a key turned on later).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { UNAVAILABLE_SECRET } from '../../src/core/subscription-secrets.ts';
import { newSigningSecret } from '../../src/delivery/sign.ts';
import type { TestReceiver } from '../../src/testing/receiver.ts';
import {
  Receivers,
  type World,
  finishedDelivery,
  ok,
  publish,
  serverWithKey,
  stored,
  subscribe,
  verifiesWith,
  world,
} from '../../src/testing/secrets-world.ts';
import { type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;

/** What an attacker sends as secretHeaderValue: the stored ciphertext's shape, exactly and loosely. */
const CIPHERTEXT_LIKE = 'enc:v1:AAAA:BBBB:CCCC';
const WELL_FORMED = `enc:v1:${'A'.repeat(16)}:${'A'.repeat(22)}:AAAA`;
const TAG_LIKE = 'plain:enc:v1:AAAA:BBBB:CCCC';

/** Reads, writes and a delivery of subscription `id`, whose header value should read `value`. */
async function readsWritesAndDelivers(
  api: Api,
  w: World,
  sub: { id: string; signingSecret: string },
  value: string,
  receiver: TestReceiver,
): Promise<void> {
  const { admin, subscriber } = w;
  for (const as of [admin, subscriber]) {
    const all = await api().call('GET', '/v1/subscriptions', { as });
    ok(all, 200, 'list');
    assert.ok(all.body.data.some((s: { id: string }) => s.id === sub.id));
    ok(await api().call('GET', '/v1/topics/orders/subscriptions', { as }), 200, 'topic list');
    const one = await api().call('GET', `/v1/subscriptions/${sub.id}`, { as });
    ok(one, 200, 'get');
    assert.equal(one.body.secretHeaderValue, value);
  }
  const current = await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: subscriber });
  const patched = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
    as: subscriber,
    body: { version: current.body.version, description: 'patched' },
  });
  ok(patched, 200, 'patch');
  assert.equal(patched.body.secretHeaderValue, value);
  ok(await api().call('POST', `/v1/subscriptions/${sub.id}/disable`, { as: subscriber }), 200, 'disable');
  ok(await api().call('POST', `/v1/subscriptions/${sub.id}/enable`, { as: subscriber }), 200, 'enable');
  const secret = await api().call('GET', `/v1/subscriptions/${sub.id}/secret`, { as: subscriber });
  ok(secret, 200, 'secret');
  assert.equal(secret.body.signingSecret, sub.signingSecret);

  const before = receiver.received.length;
  await publish(api, admin);
  const delivery = await finishedDelivery(api, subscriber, sub.id);
  assert.equal(delivery.status, 'succeeded', JSON.stringify(delivery));
  const got = receiver.received[before];
  assert.ok(got, 'the receiver got the delivery');
  assert.equal(got.headers['x-static'], value, 'the header value as sent');
  assert.ok(verifiesWith(sub.signingSecret, got), 'signed with the signing secret');
}

function attackSuite(key: string | null): void {
  describeApi(
    `secret values shaped like stored ciphertext [HERALD_ENCRYPTION_KEY ${key === null ? 'unset' : 'set'}]`,
    (api) => {
      const receivers = new Receivers();
      after(() => receivers.stopAll());

      /** Where subscriptions are written from: this server, and with a key, the same one before it had it. */
      const writers = async () => {
        const servers = [{ name: 'this server', call: api().call, close: async () => {} }];
        if (key !== null) servers.push({ name: 'before the key was set', ...(await serverWithKey(api, null)) });
        return servers;
      };

      test('a subscriber key creates a subscription with them: it reads, writes and delivers as sent', async () => {
        for (const writer of await writers()) {
          for (const value of [CIPHERTEXT_LIKE, WELL_FORMED, TAG_LIKE]) {
            const w = await world(api);
            const receiver = await receivers.start();
            const sub = await subscribe(writer.call, w.subscriber, {
              name: 'attack',
              url: receiver.url,
              secretHeaderName: 'X-Static',
              secretHeaderValue: value,
            });
            const row = await stored(api, w.admin, sub.id);
            const sealed = row.secretHeaderValue ?? '';
            if (key === null || writer.name !== 'this server') assert.equal(sealed, `plain:${value}`, writer.name);
            else assert.ok(sealed.startsWith('enc:v1:') && sealed !== value, sealed);
            assert.equal(api().deps.delivery.secrets.open(sealed), value);
            await readsWritesAndDelivers(api, w, sub, value, receiver);
          }
          await writer.close();
        }
      });

      test('PATCH to such a value and rotate to a given secret store them tagged; both read back and deliver', async () => {
        for (const writer of await writers()) {
          const w = await world(api);
          const receiver = await receivers.start();
          const sub = await subscribe(writer.call, w.subscriber, {
            name: 'patched',
            url: receiver.url,
            secretHeaderName: 'X-Static',
            secretHeaderValue: 'ordinary',
          });
          const current = await writer.call('GET', `/v1/subscriptions/${sub.id}`, { as: w.subscriber });
          ok(current, 200, `${writer.name} get`);
          // What an undecryptable value reads as is never a value one can set.
          const marker = { version: current.body.version, secretHeaderValue: UNAVAILABLE_SECRET };
          const refused = await writer.call('PATCH', `/v1/subscriptions/${sub.id}`, { as: w.subscriber, body: marker });
          ok(refused, 400, `${writer.name} patch to the marker`);
          const patched = await writer.call('PATCH', `/v1/subscriptions/${sub.id}`, {
            as: w.subscriber,
            body: { version: current.body.version, secretHeaderValue: CIPHERTEXT_LIKE },
          });
          ok(patched, 200, `${writer.name} patch`);
          const chosen = newSigningSecret();
          const rotated = await writer.call('POST', `/v1/subscriptions/${sub.id}/secret/rotate`, {
            as: w.subscriber,
            body: { signingSecret: chosen },
          });
          ok(rotated, 200, `${writer.name} rotate`);
          const row = await stored(api, w.admin, sub.id);
          for (const sealed of [row.signingSecret, row.previousSigningSecret ?? '', row.secretHeaderValue ?? '']) {
            assert.match(sealed, /^(plain:|enc:v1:)/);
          }
          await readsWritesAndDelivers(api, w, { id: sub.id, signingSecret: chosen }, CIPHERTEXT_LIKE, receiver);
          const got = receiver.received.at(-1);
          assert.ok(got && verifiesWith(sub.signingSecret, got), 'the previous secret still signs for 24 h');
          await writer.close();
        }
      });
    },
    { encryptionKey: key, worker: { retryScheduleMs: [20, 40] } },
  );
}

attackSuite(null);
attackSuite('an operator key for the attack tests');
