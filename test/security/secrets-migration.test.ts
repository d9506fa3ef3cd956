/**
 * Migration 0005 on secrets an older Herald stored untagged: plaintext (written without
 * HERALD_ENCRYPTION_KEY) or `enc:v1:` (written with it). Each keeps the reading it had: plaintext
 * becomes `plain:…`, ciphertext stays as it is; afterwards every secret reads back and is delivered
 * as before. The rows are made by this code, rewritten as the older Herald stored them, and then
 * the migration runner is made to forget 0005 so that it applies it again, as to an old database.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { newSigningSecret } from '../../src/delivery/sign.ts';
import {
  Receivers,
  type World,
  finishedDelivery,
  ok,
  publish,
  stored,
  subscribe,
  verifiesWith,
  world,
  writeStored,
} from '../../src/testing/secrets-world.ts';
import type { TestReceiver } from '../../src/testing/receiver.ts';
import { describeApi } from '../../src/testing/test-app.ts';
import { execOnTestDatabase } from '../../src/testing/test-store.ts';

/** One subscription as the older Herald stored it, and what it must read as after the migration. */
interface Legacy {
  name: string;
  signingSecret: string;
  previousSigningSecret: string | null;
  secretHeaderValue: string;
  /** The stored texts, untagged. */
  storedAs: { signingSecret: string; previousSigningSecret: string | null; secretHeaderValue: string };
  /** What migration 0005 must leave. */
  migratedAs: { signingSecret: string; previousSigningSecret: string | null; secretHeaderValue: string };
}

describeApi(
  'secrets stored before migration 0005',
  (api) => {
    const receivers = new Receivers();
    after(() => receivers.stopAll());
    let w: World;
    const subs: { legacy: Legacy; id: string; receiver: TestReceiver }[] = [];

    before(async () => {
      w = await world(api);
      const box = api().deps.delivery.secrets;
      /** Stored as plaintext (no key then): migration 0005 tags each value `plain:`. */
      const plain = (name: string, header: string, previous: string | null = null): Legacy => {
        const signing = newSigningSecret();
        const tag = (value: string | null) => (value === null ? null : `plain:${value}`);
        return {
          name,
          signingSecret: signing,
          previousSigningSecret: previous,
          secretHeaderValue: header,
          storedAs: { signingSecret: signing, previousSigningSecret: previous, secretHeaderValue: header },
          migratedAs: { signingSecret: `plain:${signing}`, previousSigningSecret: tag(previous), secretHeaderValue: `plain:${header}` },
        };
      };
      /** Sealed with the key (as the older Herald did when one was set): left as it is. */
      const sealed = (name: string, header: string): Legacy => {
        const signing = newSigningSecret();
        const storedAs = { signingSecret: box.seal(signing), previousSigningSecret: null, secretHeaderValue: box.seal(header) };
        assert.match(storedAs.signingSecret, /^enc:v1:/);
        return { name, signingSecret: signing, previousSigningSecret: null, secretHeaderValue: header, storedAs, migratedAs: storedAs };
      };
      const legacies = [
        plain('plain', 'legacy-plain', newSigningSecret()),
        sealed('sealed', 'legacy-sealed'),
        // Plaintext that looks like a tag, and an upper-case prefix (read as plaintext before: the check was case-sensitive).
        plain('tag-like', 'plain:looks-tagged'),
        plain('upper-case', 'ENC:V1:AAAA:BBBB:CCCC'),
      ];

      // Created through the API, then written back as the older Herald stored them.
      for (const legacy of legacies) {
        const receiver = await receivers.start();
        const sub = await subscribe(api().call, w.subscriber, {
          name: legacy.name,
          url: receiver.url,
          secretHeaderName: 'X-Static',
          secretHeaderValue: 'replaced below',
        });
        await writeStored(api, w.admin, sub.id, {
          ...legacy.storedAs,
          previousSecretExpiresAt: legacy.storedAs.previousSigningSecret === null ? null : Date.now() + 60 * 60 * 1000,
        });
        subs.push({ legacy, id: sub.id, receiver });
      }
      await execOnTestDatabase(api().databaseUrl, 'DELETE FROM herald_migrations WHERE version = 5');
      await api().deps.store.migrate();
    });

    test('the migration tags plaintext and leaves ciphertext as it was, once', async () => {
      for (const { legacy, id } of subs) {
        const row = await stored(api, w.admin, id);
        const { signingSecret, previousSigningSecret, secretHeaderValue } = row;
        assert.deepEqual({ signingSecret, previousSigningSecret, secretHeaderValue }, legacy.migratedAs, legacy.name);
      }
      await api().deps.store.migrate();
      const again = await stored(api, w.admin, subs[0]?.id ?? '');
      assert.equal(again.signingSecret, subs[0]?.legacy.migratedAs.signingSecret, 'a second migrate changes nothing');
    });

    test('afterwards every secret reads back as it was', async () => {
      ok(await api().call('GET', '/v1/subscriptions', { as: w.admin }), 200, 'list');
      ok(await api().call('GET', '/v1/topics/orders/subscriptions', { as: w.subscriber }), 200, 'topic list');
      for (const { legacy, id } of subs) {
        const one = await api().call('GET', `/v1/subscriptions/${id}`, { as: w.subscriber });
        ok(one, 200, legacy.name);
        assert.equal(one.body.secretHeaderValue, legacy.secretHeaderValue, legacy.name);
        const secret = await api().call('GET', `/v1/subscriptions/${id}/secret`, { as: w.subscriber });
        ok(secret, 200, legacy.name);
        assert.equal(secret.body.signingSecret, legacy.signingSecret, legacy.name);
      }
    });

    test('afterwards each is delivered with its header value and signed by its secrets', async () => {
      await publish(api, w.admin);
      for (const { legacy, id, receiver } of subs) {
        const delivery = await finishedDelivery(api, w.subscriber, id);
        assert.equal(delivery.status, 'succeeded', `${legacy.name} ${JSON.stringify(delivery)}`);
        const got = receiver.received[0];
        assert.ok(got, legacy.name);
        assert.equal(got.headers['x-static'], legacy.secretHeaderValue, legacy.name);
        assert.ok(verifiesWith(legacy.signingSecret, got), `${legacy.name}: the signing secret verifies`);
        const signatures = String(got.headers['webhook-signature']).split(' ');
        if (legacy.previousSigningSecret === null) assert.equal(signatures.length, 1, legacy.name);
        else {
          assert.equal(signatures.length, 2, legacy.name);
          assert.ok(verifiesWith(legacy.previousSigningSecret, got), `${legacy.name}: the previous secret verifies`);
        }
      }
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
