/**
 * Fan-out (SPEC §4 Publishing, §5): one delivery per enabled subscription whose `events` want the
 * type, written in the publish transaction (the 202 answer counts them); the global publish
 * reaches every topic holding the type; a duplicate id — in a later call or in the same batch —
 * creates no deliveries.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

interface PublishedEvent {
  id: string;
  status: 'accepted' | 'duplicate';
  deliveries: number;
}

describeApi(
  'fan-out',
  (api) => {
    let admin: Caller;
    const receivers: TestReceiver[] = [];
    const receiver = async () => {
      const r = await new TestReceiver().start();
      receivers.push(r);
      return r;
    };

    const created = async (method: string, url: string, body: unknown) => {
      const answer = await api().call(method, url, { as: admin, body });
      assert.equal(answer.status, 201, `${url}: ${JSON.stringify(answer.body)}`);
      return answer.body;
    };
    const subscribe = async (topic: string, name: string, url: string, extra: Record<string, unknown> = {}) =>
      (await created('POST', `/v1/topics/${topic}/subscriptions`, { name, url, ...extra })) as { id: string; status: string };
    const publish = async (path: string, events: unknown[]): Promise<PublishedEvent[]> => {
      const answer = await api().call('POST', path, { as: admin, body: { events } });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      return answer.body.events;
    };
    /** The event's deliveries once every one of them has succeeded. */
    const settled = (eventId: string, count: number) =>
      eventually(
        async () => {
          const shown = await api().call('GET', `/v1/events/${eventId}`, { as: admin });
          assert.equal(shown.status, 200);
          const deliveries = shown.body.deliveries as { subscriptionId: string; status: string; topic: string }[];
          return deliveries.length === count && deliveries.every((d) => d.status === 'succeeded') ? deliveries : undefined;
        },
        5000,
        `${count} succeeded deliveries of ${eventId}`,
      );

    before(async () => {
      admin = await api().environment();
      for (const name of ['fan.created', 'other.type', 'shared.type', 'lonely.type']) {
        await created('POST', '/v1/event-types', { name });
      }
    });
    after(async () => {
      for (const r of receivers) await r.stop();
    });

    test('one event reaches exactly the enabled subscriptions that want its type', async () => {
      await created('POST', '/v1/topics', { name: 'fan', eventTypes: ['fan.created', 'other.type'] });
      const hook = await receiver();
      const all = await subscribe('fan', 'all', `${hook.url}?s=all`);
      const exact = await subscribe('fan', 'exact', `${hook.url}?s=exact`, { events: ['fan.created'] });
      const both = await subscribe('fan', 'both', `${hook.url}?s=both`, { events: ['other.type', 'fan.created'] });
      const other = await subscribe('fan', 'other', `${hook.url}?s=other`, { events: ['other.type'] });
      const off = await subscribe('fan', 'off', `${hook.url}?s=off`, { enabled: false });
      assert.equal(off.status, 'disabled');

      const [published] = await publish('/v1/topics/fan/events/publish', [{ id: 'fan-1', type: 'fan.created', data: { n: 1 } }]);
      assert.deepEqual(published, { id: 'fan-1', status: 'accepted', deliveries: 3 });

      const deliveries = await settled('fan-1', 3);
      assert.deepEqual(
        deliveries.map((d) => d.subscriptionId).sort(),
        [all.id, exact.id, both.id].sort(),
      );
      assert.ok(deliveries.every((d) => d.topic === 'fan'));
      await hook.waitFor(3);
      assert.deepEqual(
        hook.received.map((r) => r.url).sort(),
        ['/hook?s=all', '/hook?s=both', '/hook?s=exact'],
      );
      assert.ok(hook.received.every((r) => r.headers['webhook-id'] === 'fan-1'));

      // The subscriptions that were passed over have no delivery at all.
      for (const skipped of [other, off]) {
        const listed = await api().call('GET', `/v1/subscriptions/${skipped.id}/deliveries`, { as: admin });
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.body.data, []);
      }
      // An event of the other type goes to the three that want it, and to nobody else.
      const [second] = await publish('/v1/topics/fan/events/publish', [{ id: 'fan-2', type: 'other.type' }]);
      assert.equal(second?.deliveries, 3);
      assert.deepEqual(
        (await settled('fan-2', 3)).map((d) => d.subscriptionId).sort(),
        [all.id, both.id, other.id].sort(),
      );
      await hook.waitFor(6);
      assert.equal(hook.received.length, 6);
    });

    test('/v1/events/publish fans out to every topic holding the type', async () => {
      await created('POST', '/v1/topics', { name: 'left', eventTypes: ['shared.type'] });
      await created('POST', '/v1/topics', { name: 'right', eventTypes: ['shared.type', 'lonely.type'] });
      await created('POST', '/v1/topics', { name: 'elsewhere', eventTypes: ['lonely.type'] });
      const hook = await receiver();
      const left = await subscribe('left', 'l', `${hook.url}?t=left`);
      const right = await subscribe('right', 'r', `${hook.url}?t=right`);
      const elsewhere = await subscribe('elsewhere', 'e', `${hook.url}?t=elsewhere`);

      const [published] = await publish('/v1/events/publish', [{ id: 'shared-1', type: 'shared.type', data: { ok: true } }]);
      assert.deepEqual(published, { id: 'shared-1', status: 'accepted', deliveries: 2 });
      const deliveries = await settled('shared-1', 2);
      assert.deepEqual(
        deliveries.map((d) => [d.topic, d.subscriptionId]).sort(),
        [
          ['left', left.id],
          ['right', right.id],
        ],
      );
      await hook.waitFor(2);
      // Each request names the topic it came through.
      const topics = hook.received.map((r) => [r.url, (JSON.parse(r.body) as { topic: string }).topic]).sort();
      assert.deepEqual(topics, [
        ['/hook?t=left', 'left'],
        ['/hook?t=right', 'right'],
      ]);
      const listed = await api().call('GET', `/v1/subscriptions/${elsewhere.id}/deliveries`, { as: admin });
      assert.deepEqual(listed.body.data, []);

      // A type held by one topic only reaches that topic's subscriptions through the global call.
      const [lonely] = await publish('/v1/events/publish', [{ id: 'lonely-1', type: 'lonely.type' }]);
      assert.equal(lonely?.deliveries, 2);
      assert.deepEqual(
        (await settled('lonely-1', 2)).map((d) => d.subscriptionId).sort(),
        [right.id, elsewhere.id].sort(),
      );
    });

    test('a duplicate publish creates no deliveries (in a later call or in the same batch)', async () => {
      await created('POST', '/v1/topics', { name: 'dups', eventTypes: ['fan.created'] });
      const hook = await receiver();
      await subscribe('dups', 'one', `${hook.url}?s=1`);
      await subscribe('dups', 'two', `${hook.url}?s=2`);

      const [first] = await publish('/v1/topics/dups/events/publish', [{ id: 'dup-1', type: 'fan.created', data: { v: 1 } }]);
      assert.deepEqual(first, { id: 'dup-1', status: 'accepted', deliveries: 2 });
      await settled('dup-1', 2);
      const [again] = await publish('/v1/topics/dups/events/publish', [{ id: 'dup-1', type: 'fan.created', data: { v: 2 } }]);
      assert.deepEqual(again, { id: 'dup-1', status: 'duplicate', deliveries: 0 });
      // Through the global call too.
      const [global] = await publish('/v1/events/publish', [{ id: 'dup-1', type: 'fan.created' }]);
      assert.deepEqual(global, { id: 'dup-1', status: 'duplicate', deliveries: 0 });

      // The same id twice in one batch: the first is accepted with its deliveries, the repeat gets none.
      const batch = await publish('/v1/topics/dups/events/publish', [
        { id: 'dup-2', type: 'fan.created', data: { v: 1 } },
        { id: 'dup-2', type: 'fan.created', data: { v: 2 } },
      ]);
      assert.deepEqual(batch, [
        { id: 'dup-2', status: 'accepted', deliveries: 2 },
        { id: 'dup-2', status: 'duplicate', deliveries: 0 },
      ]);
      await settled('dup-2', 2);

      // A marker event published last: once it has arrived, anything the duplicates had queued would have too.
      await publish('/v1/topics/dups/events/publish', [{ id: 'dup-marker', type: 'fan.created' }]);
      await settled('dup-marker', 2);
      await hook.waitFor(6);
      await new Promise((r) => setTimeout(r, 150));
      const ids = hook.received.map((r) => r.headers['webhook-id']).sort();
      assert.deepEqual(ids, ['dup-1', 'dup-1', 'dup-2', 'dup-2', 'dup-marker', 'dup-marker']);
      const bodies = hook.received.filter((r) => r.headers['webhook-id'] !== 'dup-marker').map((r) => JSON.parse(r.body).data);
      // The first occurrence is the one stored and delivered.
      assert.deepEqual(bodies, [{ v: 1 }, { v: 1 }, { v: 1 }, { v: 1 }]);
    });
  },
  { worker: { retryScheduleMs: [20, 40] } },
);
