/**
 * Tenant isolation of operational events (SPEC §1 API key, §4 Subscriptions, §6): an event on
 * `herald.operational` names a topic, its subscriptions and its events, so it reaches only the
 * operational subscriptions whose scope (the key that created them or last changed their URL) may
 * see that topic. The attacks: a subscriber key without an app's permission subscribing to the
 * built-in topic; and one re-pointing an admin's operational subscription at its own receiver,
 * then retrying and replaying what that subscription had received.
 *
 * Waits are deterministic: an admin's operational subscription sees every operational event, so
 * a test waits until it has them, then reads (as admin) which subscriptions each one was fanned
 * out to. Fan-out is written with the event, so a subscription missing there never gets it.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { OPERATIONAL_TOPIC } from '../../src/domain/names.ts';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';

interface OperationalEvent {
  id: string;
  type: string;
  data: { topic: string; subscriptionId: string; eventId?: string };
}

const TOPICS = ['public', 'acme', 'globex'] as const;
type TopicName = (typeof TOPICS)[number];

function fixtures(api: () => TestApi) {
  const receivers: TestReceiver[] = [];
  after(async () => {
    for (const r of receivers) await r.stop();
  });
  const receiver = async (status = 204) => {
    const r = await new TestReceiver(() => ({ status })).start();
    receivers.push(r);
    return r;
  };
  let worlds = 0;

  /**
   * A fresh environment: topic `public` (no app), `acme` and `globex` (each owned by an app whose
   * permission is `<name>:read`), each with one subscription whose receiver always answers 500
   * (no retries), and the keys: admin, `outsider` (subscriber, no permission), `insider`
   * (subscriber, acme:read).
   */
  const world = async (options: { disableAfterFailures?: number } = {}) => {
    const admin = await api().environment(`ops-${++worlds}`);
    const call = (as: Caller, method: string, url: string, body?: unknown) => api().call(method, url, { as, body });
    const created = async (as: Caller, url: string, body: unknown) => {
      const answer = await call(as, 'POST', url, body);
      assert.equal(answer.status, 201, `${url} ${JSON.stringify(answer.body)}`);
      return answer.body;
    };
    await created(admin, '/v1/event-types', { name: 'thing.happened' });
    await created(admin, '/v1/topics', { name: 'public', eventTypes: ['thing.happened'] });
    for (const name of ['acme', 'globex']) {
      const app = await created(admin, '/v1/apps', { name, permissions: [`${name}:read`] });
      await created(admin, '/v1/topics', { name, eventTypes: ['thing.happened'], appId: app.id });
    }
    const failing = await receiver(500);
    const failingSub = {} as Record<TopicName, string>;
    for (const topic of TOPICS) {
      const sub = await created(admin, `/v1/topics/${topic}/subscriptions`, {
        name: 'failing',
        url: failing.url,
        maxRetries: 0,
        ...options,
      });
      failingSub[topic] = sub.id;
    }
    const outsider = await api().key(admin, 'subscriber');
    const insider = await api().key(admin, 'subscriber', ['acme:read']);

    /** A subscription on herald.operational made by `as`, to a fresh receiver. */
    const operationalSubscription = async (as: Caller, name: string) => {
      const hook = await receiver();
      const sub = await created(as, `/v1/topics/${OPERATIONAL_TOPIC}/subscriptions`, { name, url: hook.url });
      return { id: sub.id as string, hook };
    };
    /** Publishes one event to each topic (each fails once: herald.delivery.failed about it). */
    const publishToEach = async (topics: readonly TopicName[] = TOPICS) => {
      for (const topic of topics) {
        const answer = await call(admin, 'POST', `/v1/topics/${topic}/events/publish`, {
          events: [{ type: 'thing.happened', data: { topic } }],
        });
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
      }
    };
    /** Waits until `hook` has received `count` operational events; answers them parsed. */
    const receivedBy = async (hook: TestReceiver, count: number) => {
      await hook.waitFor(count, 10_000);
      return hook.received.map((r) => JSON.parse(r.body) as OperationalEvent);
    };
    /** Ids of the subscriptions the operational event was fanned out to (any status). */
    const recipients = async (eventId: string): Promise<string[]> => {
      const answer = await call(admin, 'GET', `/v1/events/${eventId}`);
      assert.equal(answer.status, 200);
      return answer.body.deliveries.map((d: { subscriptionId: string }) => d.subscriptionId);
    };
    /** Waits until none of the subscription's deliveries is waiting or in flight; answers them. */
    const settled = (as: Caller, subscriptionId: string) =>
      eventually(async () => {
        const answer = await call(as, 'GET', `/v1/subscriptions/${subscriptionId}/deliveries?limit=250`);
        assert.equal(answer.status, 200);
        const list = answer.body.data as { id: string; eventId: string; status: string }[];
        return list.every((d) => ['succeeded', 'failed', 'cancelled'].includes(d.status)) ? list : undefined;
      }, 10_000, `deliveries of ${subscriptionId} settled`);
    /** Whether anything the receiver got names a topic other than those given, or their subscriptions. */
    const mentionsOnly = (hook: TestReceiver, allowed: readonly TopicName[]) => {
      for (const topic of TOPICS.filter((t) => !allowed.includes(t))) {
        for (const r of hook.received) {
          const event = JSON.parse(r.body) as OperationalEvent;
          assert.notEqual(event.data.topic, topic, `received an event about ${topic}`);
          assert.ok(!r.body.includes(failingSub[topic]), `received the id of ${topic}'s subscription`);
        }
      }
    };

    return {
      admin,
      outsider,
      insider,
      call,
      failingSub,
      operationalSubscription,
      publishToEach,
      receivedBy,
      recipients,
      settled,
      mentionsOnly,
    };
  };
  return { world, receiver };
}

describeApi(
  'operational events reach only who may see their topic',
  (api) => {
    const { world, receiver } = fixtures(api);

    test('a subscriber key without the app permission gets nothing about the app topic, only about public ones', async () => {
      const w = await world({ disableAfterFailures: 1 });
      const audit = await w.operationalSubscription(w.admin, 'audit');
      const spy = await w.operationalSubscription(w.outsider, 'spy');
      await w.publishToEach();
      // delivery.failed and subscription.disabled about each of the three topics.
      const events = await w.receivedBy(audit.hook, 6);
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.data.topic}`).sort(),
        TOPICS.flatMap((t) => [`herald.delivery.failed ${t}`, `herald.subscription.disabled ${t}`]).sort(),
      );
      for (const event of events) {
        const to = await w.recipients(event.id);
        assert.ok(to.includes(audit.id));
        assert.equal(to.includes(spy.id), event.data.topic === 'public', `${event.type} about ${event.data.topic}`);
      }
      const got = await w.receivedBy(spy.hook, 2);
      assert.deepEqual(got.map((e) => e.type).sort(), ['herald.delivery.failed', 'herald.subscription.disabled']);
      await w.settled(w.outsider, spy.id);
      assert.equal(spy.hook.received.length, 2);
      w.mentionsOnly(spy.hook, ['public']);
    });

    test('a subscriber key holding the permission gets the app topic too, and not another app', async () => {
      const w = await world();
      const audit = await w.operationalSubscription(w.admin, 'audit');
      const partner = await w.operationalSubscription(w.insider, 'partner');
      await w.publishToEach();
      const events = await w.receivedBy(audit.hook, 3);
      for (const event of events) {
        const to = await w.recipients(event.id);
        assert.equal(to.includes(partner.id), event.data.topic !== 'globex', `about ${event.data.topic}`);
      }
      const got = await w.receivedBy(partner.hook, 2);
      assert.deepEqual(got.map((e) => e.data.topic).sort(), ['acme', 'public']);
      assert.deepEqual(
        got.map((e) => e.data.subscriptionId).sort(),
        [w.failingSub.acme, w.failingSub.public].sort(),
      );
      await w.settled(w.insider, partner.id);
      w.mentionsOnly(partner.hook, ['public', 'acme']);
    });

    test("an admin's operational subscription gets everything; the scope follows the URL, not other edits", async () => {
      const w = await world();
      const audit = await w.operationalSubscription(w.admin, 'audit');
      const spy = await w.operationalSubscription(w.outsider, 'spy');
      // An admin editing the subscriber's subscription, its URL unchanged, does not widen it...
      const read = await w.call(w.admin, 'GET', `/v1/subscriptions/${spy.id}`);
      const patched = await w.call(w.admin, 'PATCH', `/v1/subscriptions/${spy.id}`, {
        version: read.body.version,
        description: 'reviewed',
        url: spy.hook.url,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal((await w.call(w.admin, 'POST', `/v1/subscriptions/${spy.id}/disable`)).status, 200);
      assert.equal((await w.call(w.admin, 'POST', `/v1/subscriptions/${spy.id}/enable`)).status, 200);
      // ...nor does the subscriber's edit of the admin's narrow it.
      const mine = await w.call(w.outsider, 'GET', `/v1/subscriptions/${audit.id}`);
      assert.equal(mine.status, 200);
      const renamed = await w.call(w.outsider, 'PATCH', `/v1/subscriptions/${audit.id}`, {
        version: mine.body.version,
        description: 'mine now?',
      });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));

      await w.publishToEach();
      const events = await w.receivedBy(audit.hook, 3);
      assert.deepEqual(events.map((e) => e.data.topic).sort(), [...TOPICS].sort());
      for (const event of events) {
        const to = await w.recipients(event.id);
        assert.ok(to.includes(audit.id));
        assert.equal(to.includes(spy.id), event.data.topic === 'public', `about ${event.data.topic}`);
      }
      await w.settled(w.outsider, spy.id);
      w.mentionsOnly(spy.hook, ['public']);
    });

    test("a subscriber re-pointing an admin's operational subscription narrows it: fan-out, retry and replay", async () => {
      const w = await world();
      const audit = await w.operationalSubscription(w.admin, 'audit');
      await w.publishToEach();
      const before = await w.receivedBy(audit.hook, 3);
      await w.settled(w.admin, audit.id);

      // The subscriber points the admin's subscription at its own receiver.
      const stolen = await receiver();
      const read = await w.call(w.outsider, 'GET', `/v1/subscriptions/${audit.id}`);
      assert.equal(read.status, 200);
      const patched = await w.call(w.outsider, 'PATCH', `/v1/subscriptions/${audit.id}`, {
        version: read.body.version,
        url: stolen.url,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));

      // Retrying what the subscription received under the admin's scope sends only what the new one may see.
      const old = await w.settled(w.outsider, audit.id);
      assert.equal(old.length, 3);
      for (const delivery of old) {
        const retried = await w.call(w.outsider, 'POST', `/v1/deliveries/${delivery.id}/retry`);
        assert.equal(retried.status, 202, JSON.stringify(retried.body));
      }
      const aboutOf = new Map(before.map((e) => [e.id, e.data.topic]));
      const retried = await w.settled(w.outsider, audit.id);
      for (const delivery of retried) {
        const about = aboutOf.get(delivery.eventId);
        assert.equal(delivery.status, about === 'public' ? 'succeeded' : 'cancelled', `retry about ${about}`);
      }

      // Replay re-queues only the events about topics it may see.
      const replayed = await w.call(w.outsider, 'POST', `/v1/subscriptions/${audit.id}/replay`, {
        since: new Date(0).toISOString(),
      });
      assert.equal(replayed.status, 202, JSON.stringify(replayed.body));
      assert.deepEqual(replayed.body, { queued: 1 });

      // New failures: only the public one is fanned out to it. A witness with the admin's scope sees all.
      const witness = await w.operationalSubscription(w.admin, 'witness');
      await w.publishToEach();
      const events = await w.receivedBy(witness.hook, 3);
      for (const event of events) {
        const to = await w.recipients(event.id);
        assert.equal(to.includes(audit.id), event.data.topic === 'public', `about ${event.data.topic}`);
      }
      await w.settled(w.outsider, audit.id);
      // Retry, replay, and the new public failure: three times the public news, nothing else.
      assert.equal(stolen.received.length, 3);
      w.mentionsOnly(stolen, ['public']);
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
