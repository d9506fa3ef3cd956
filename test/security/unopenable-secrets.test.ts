/**
 * Stored secrets this server cannot decrypt: encrypted under a key since removed or under another
 * key, or the residue of a value an older Herald stored untagged (`enc:v1:AAAA:BBBB:CCCC`, which
 * migration 0005 keeps as ciphertext). Reads show the value as unavailable and never answer 500;
 * writes keep it as stored; nothing is sent or signed with it: the attempt fails with kind
 * `secret_unavailable` and the delivery ends instead of hanging in `delivering`. Rotating or
 * replacing the value recovers.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { UNAVAILABLE_SECRET } from '../../src/core/subscription-secrets.ts';
import { makeSecretBox } from '../../src/secret-box.ts';
import { assertProblem } from '../../src/testing/assertions.ts';
import {
  Receivers,
  finishedDelivery,
  ok,
  publish,
  stored,
  subscribe,
  verifiesWith,
  world,
  writeStored,
} from '../../src/testing/secrets-world.ts';
import { describeApi } from '../../src/testing/test-app.ts';

/** What an older Herald stored for an attacker's `secretHeaderValue` sent as is. */
const UNTAGGED_RESIDUE = 'enc:v1:AAAA:BBBB:CCCC';

function unopenableSuite(key: string | null): void {
  /** Sealed under a key this server does not have: removed since (no key) or replaced (another key). */
  const foreign = makeSecretBox(key === null ? 'a key since removed' : 'not the configured key');

  describeApi(
    `stored secrets that cannot be decrypted [HERALD_ENCRYPTION_KEY ${key === null ? 'unset' : 'set'}]`,
    (api) => {
      const receivers = new Receivers();
      after(() => receivers.stopAll());

      test('an unavailable secret header value: reads say so, writes keep it, deliveries fail without sending', async () => {
        for (const unopenable of [foreign.seal('header-value'), UNTAGGED_RESIDUE]) {
          const { admin, subscriber } = await world(api);
          const receiver = await receivers.start();
          const sub = await subscribe(api().call, subscriber, {
            name: 'broken-header',
            url: receiver.url,
            secretHeaderName: 'X-Static',
            secretHeaderValue: 'replaced below',
            maxRetries: 1,
          });
          await writeStored(api, admin, sub.id, { secretHeaderValue: unopenable });

          for (const as of [admin, subscriber]) {
            const all = await api().call('GET', '/v1/subscriptions', { as });
            ok(all, 200, 'list');
            assert.equal(all.body.data.find((s: { id: string }) => s.id === sub.id)?.secretHeaderValue, UNAVAILABLE_SECRET);
            ok(await api().call('GET', '/v1/topics/orders/subscriptions', { as }), 200, 'topic list');
            const one = await api().call('GET', `/v1/subscriptions/${sub.id}`, { as });
            ok(one, 200, 'get');
            assert.equal(one.body.secretHeaderValue, UNAVAILABLE_SECRET);
          }
          let version = (await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: subscriber })).body.version;
          for (const body of [{ description: 'other field' }, { secretHeaderValue: UNAVAILABLE_SECRET }]) {
            const patched = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, { as: subscriber, body: { version, ...body } });
            ok(patched, 200, `patch ${JSON.stringify(body)}`);
            version = patched.body.version;
            assert.equal((await stored(api, admin, sub.id)).secretHeaderValue, unopenable, 'kept as stored');
          }
          ok(await api().call('POST', `/v1/subscriptions/${sub.id}/disable`, { as: subscriber }), 200, 'disable');
          ok(await api().call('POST', `/v1/subscriptions/${sub.id}/enable`, { as: subscriber }), 200, 'enable');
          ok(await api().call('GET', `/v1/subscriptions/${sub.id}/secret`, { as: subscriber }), 200, 'signing secret');

          await publish(api, admin);
          const delivery = await finishedDelivery(api, subscriber, sub.id);
          assert.equal(delivery.status, 'failed');
          assert.equal(delivery.attempts.length, 2, 'the first attempt and maxRetries: 1');
          for (const attempt of delivery.attempts) {
            assert.equal(attempt.error?.kind, 'secret_unavailable');
            assert.match(attempt.error?.message, /secretHeaderValue cannot be decrypted/);
            assert.equal(attempt.responseStatus, null);
          }
          const tried = await api().call('POST', `/v1/subscriptions/${sub.id}/test`, {
            as: subscriber,
            body: { type: 'order.created', data: {} },
          });
          ok(tried, 200, 'test send');
          assert.equal(tried.body.outcome, 'failed');
          assert.equal(tried.body.error?.kind, 'secret_unavailable');
          assert.equal(receiver.received.length, 0, 'nothing was sent');

          // Replacing the value recovers.
          version = (await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: subscriber })).body.version;
          const replaced = await api().call('PATCH', `/v1/subscriptions/${sub.id}`, {
            as: subscriber,
            body: { version, secretHeaderValue: 'fresh-value' },
          });
          ok(replaced, 200, 'replace');
          assert.equal(replaced.body.secretHeaderValue, 'fresh-value');
          await publish(api, admin);
          assert.equal((await finishedDelivery(api, subscriber, sub.id)).status, 'succeeded');
          assert.equal(receiver.received[0]?.headers['x-static'], 'fresh-value');
        }
      });

      test('an unavailable signing secret: GET /secret answers 503, deliveries fail without sending, rotating recovers', async () => {
        for (const unopenable of [foreign.seal('whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0'), UNTAGGED_RESIDUE]) {
          const { admin, subscriber } = await world(api);
          const receiver = await receivers.start();
          const sub = await subscribe(api().call, subscriber, { name: 'broken-signing', url: receiver.url, maxRetries: 0 });
          await writeStored(api, admin, sub.id, { signingSecret: unopenable });

          const secret = await api().call('GET', `/v1/subscriptions/${sub.id}/secret`, { as: subscriber });
          assertProblem(secret, 503, 'secret');
          assert.match(secret.body.detail, /cannot be decrypted/);
          assert.doesNotMatch(JSON.stringify(secret.body), /enc:v1|whsec_/, 'neither the stored text nor a secret');
          ok(await api().call('GET', `/v1/subscriptions/${sub.id}`, { as: subscriber }), 200, 'get');
          ok(await api().call('GET', '/v1/subscriptions', { as: admin }), 200, 'list');

          await publish(api, admin);
          const failed = await finishedDelivery(api, subscriber, sub.id);
          assert.equal(failed.status, 'failed');
          assert.equal(failed.attempts[0]?.error?.kind, 'secret_unavailable');
          assert.match(failed.attempts[0]?.error?.message, /signingSecret cannot be decrypted/);
          assert.equal(receiver.received.length, 0, 'nothing was sent unsigned');

          const rotated = await api().call('POST', `/v1/subscriptions/${sub.id}/secret/rotate`, { as: subscriber });
          ok(rotated, 200, 'rotate');
          const row = await stored(api, admin, sub.id);
          assert.equal(row.previousSigningSecret, null, 'what cannot sign is not kept as the previous secret');
          assert.equal(row.previousSecretExpiresAt, null);
          await publish(api, admin);
          assert.equal((await finishedDelivery(api, subscriber, sub.id)).status, 'succeeded');
          const got = receiver.received[0];
          assert.ok(got && verifiesWith(rotated.body.signingSecret, got));
          assert.equal(String(got.headers['webhook-signature']).split(' ').length, 1);
        }
      });

      test('an unavailable previous signing secret blocks sending only while it still signs', async () => {
        const { admin, subscriber } = await world(api);
        const receiver = await receivers.start();
        const sub = await subscribe(api().call, subscriber, { name: 'broken-previous', url: receiver.url, maxRetries: 0 });
        const previous = foreign.seal('whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0');
        await writeStored(api, admin, sub.id, { previousSigningSecret: previous, previousSecretExpiresAt: Date.now() + 60_000 });
        await publish(api, admin);
        const blocked = await finishedDelivery(api, subscriber, sub.id);
        assert.equal(blocked.attempts[0]?.error?.kind, 'secret_unavailable');
        assert.match(blocked.attempts[0]?.error?.message, /previousSigningSecret/);
        assert.equal(receiver.received.length, 0);

        await writeStored(api, admin, sub.id, { previousSecretExpiresAt: Date.now() - 1 });
        await publish(api, admin);
        assert.equal((await finishedDelivery(api, subscriber, sub.id)).status, 'succeeded');
        assert.ok(receiver.received[0] && verifiesWith(sub.signingSecret, receiver.received[0]));
      });
    },
    { encryptionKey: key, worker: { retryScheduleMs: [20, 40] } },
  );
}

unopenableSuite(null);
unopenableSuite('the configured key');
