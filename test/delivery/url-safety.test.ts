/**
 * URL safety at connect time (SPEC §7): with private URLs refused, a host that resolved to a
 * public address when the subscription was saved and now resolves to loopback (DNS rebinding)
 * is refused again at connect: the attempt fails with kind `blocked_url` and nothing reaches the
 * receiver. Name resolution is injected; the only network traffic is to 127.0.0.1, and the public
 * address below is only ever a lookup *result* checked at creation — the answers are switched to
 * loopback before anything is published or sent.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Lookup } from '../../src/delivery/url-guard.ts';
import { TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, describeApi } from '../../src/testing/test-app.ts';

const PUBLIC = [{ address: '93.184.216.34', family: 4 }];
const LOOPBACK = [{ address: '127.0.0.1', family: 4 }];
const MAPPED_LOOPBACK = [{ address: '::ffff:127.0.0.1', family: 6 }];

/** What each host name resolves to right now; tests change it. */
const dns = new Map<string, { address: string; family: number }[]>();
const lookup: Lookup = async (hostname) => {
  const answer = dns.get(hostname);
  if (answer) return answer;
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

describeApi(
  'URL safety at connect',
  (api) => {
    let admin: Caller;
    let hook: TestReceiver;
    const call = (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });

    before(async () => {
      admin = await api().environment();
      hook = await new TestReceiver().start();
      assert.equal((await call('POST', '/v1/event-types', { name: 'ping.sent' })).status, 201);
      assert.equal((await call('POST', '/v1/topics', { name: 'pings', eventTypes: ['ping.sent'] })).status, 201);
    });
    after(async () => {
      await hook.stop();
    });

    /** Subscribes `host` (resolving to a public address for the creation check), then rebinds it to `rebound`. */
    const rebound = async (host: string, to: { address: string; family: number }[]) => {
      dns.set(host, PUBLIC);
      const created = await call('POST', '/v1/topics/pings/subscriptions', {
        name: host,
        url: `http://${host}:${hook.port}/hook`,
        maxRetries: 0,
        events: ['ping.sent'],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      // Rebind BEFORE anything is published or sent: nothing ever connects to the public address.
      dns.set(host, to);
      return created.body.id as string;
    };

    test('private addresses are refused at creation', async () => {
      dns.set('inside.example.test', LOOPBACK);
      for (const url of [`http://inside.example.test:${hook.port}/hook`, `http://127.0.0.1:${hook.port}/hook`, 'http://[::1]/hook', 'http://169.254.169.254/latest']) {
        const refused = await call('POST', '/v1/topics/pings/subscriptions', { name: `r-${Math.random()}`, url });
        assert.equal(refused.status, 400, url);
        assert.equal(refused.body.errors?.[0]?.path, '/url');
      }
      const unknown = await call('POST', '/v1/topics/pings/subscriptions', { name: 'nx', url: 'http://nowhere.example.test/hook' });
      assert.equal(unknown.status, 400);
    });

    test('a host rebound to loopback after creation: blocked_url at connect, nothing arrives', async () => {
      const v4 = await rebound('hooks.example.test', LOOPBACK);
      const v6 = await rebound('mapped.example.test', MAPPED_LOOPBACK);
      const [published] = (await call('POST', '/v1/topics/pings/events/publish', { events: [{ id: 'rebind-1', type: 'ping.sent' }] })).body.events;
      assert.equal(published.deliveries, 2);
      const deliveries = await eventually(async () => {
        const list = (await call('GET', '/v1/events/rebind-1')).body.deliveries as { id: string; subscriptionId: string; status: string }[];
        return list.length === 2 && list.every((d) => d.status === 'failed') ? list : undefined;
      }, 5000, 'both deliveries failed');
      for (const subscriptionId of [v4, v6]) {
        const delivery = deliveries.find((d) => d.subscriptionId === subscriptionId);
        assert.ok(delivery);
        const attempts = (await call('GET', `/v1/deliveries/${delivery.id}/attempts`)).body.data;
        assert.equal(attempts.length, 1);
        assert.equal(attempts[0].error?.kind, 'blocked_url');
        assert.equal(attempts[0].responseStatus, null);
        assert.match(attempts[0].error?.message ?? '', /loopback/);
      }
      // The test send goes through the same guard.
      const tested = await call('POST', `/v1/subscriptions/${v4}/test`, { type: 'ping.sent', data: {} });
      assert.equal(tested.status, 200, JSON.stringify(tested.body));
      assert.equal(tested.body.error?.kind, 'blocked_url');
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(hook.received.length, 0);
    });

    test('a manual retry after the rebinding is blocked too', async () => {
      const id = await rebound('retry.example.test', LOOPBACK);
      await call('POST', '/v1/topics/pings/events/publish', { events: [{ id: 'rebind-2', type: 'ping.sent' }] });
      const failed = await eventually(async () => {
        const list = (await call('GET', `/v1/subscriptions/${id}/deliveries`)).body.data as { id: string; status: string }[];
        return list[0]?.status === 'failed' ? list[0] : undefined;
      }, 5000, 'delivery failed');
      assert.equal((await call('POST', `/v1/deliveries/${failed.id}/retry`)).status, 202);
      const attempts = await eventually(async () => {
        const data = (await call('GET', `/v1/deliveries/${failed.id}/attempts`)).body.data as { error: { kind: string } | null }[];
        return data.length === 2 ? data : undefined;
      }, 5000, 'second attempt');
      assert.deepEqual(
        attempts.map((a) => a.error?.kind),
        ['blocked_url', 'blocked_url'],
      );
      assert.equal(hook.received.length, 0);
    });
  },
  { allowPrivateUrls: false, lookup, worker: { retryScheduleMs: [20, 40] } },
);
