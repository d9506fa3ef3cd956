/**
 * When deliveries fail (SPEC §5, §6): retries up to maxRetries then `failed`; the operational
 * events on `herald.operational` (delivery.failed, subscription.disabled, subscription.recovered);
 * failure emails to a real SMTP server, at most one per subscription per hour; timeouts; 410 Gone;
 * Retry-After on 429/503, honoured up to the schedule's largest step.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { OPERATIONAL_TOPIC } from '../../src/domain/names.ts';
import { type Reply, TestReceiver, eventually } from '../../src/testing/receiver.ts';
import { type Caller, type TestApi, describeApi } from '../../src/testing/test-app.ts';
import { EMAIL_INTERVAL_MS, FailureMailer } from '../../src/worker/notifications.ts';

// ── a real SMTP server on 127.0.0.1, collecting every message ────────────────

interface Mail {
  to: string[];
  subject: string;
  text: string;
}
const mails: Mail[] = [];
/** Recipients whose messages the server holds unacknowledged until the promise resolves. */
const holds = new Map<string, Promise<void>>();

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`), as nodemailer writes a subject. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?[^?]+\?([QqBb])\?([^?]*)\?=/g, (_, encoding: string, text: string) =>
      encoding.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1').toString('utf8'),
    );
}

function decodeQuotedPrintable(value: string): string {
  const bytes = value.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', async () => {
      // Unfold continued header lines so a long subject reads as one.
      const raw = Buffer.concat(chunks).toString('utf8');
      const split = raw.indexOf('\r\n\r\n');
      const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
      const body = raw.slice(split + 4);
      mails.push({
        to: session.envelope.rcptTo.map((r) => r.address),
        subject: decodeWords(/^Subject: (.*)$/im.exec(head)?.[1] ?? ''),
        text: /^Content-Transfer-Encoding: quoted-printable/im.test(head) ? decodeQuotedPrintable(body) : body,
      });
      // A held recipient's message is received but not yet acknowledged: the sender is mid-send.
      for (const r of session.envelope.rcptTo) await holds.get(r.address);
      callback();
    });
  },
});
await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
const smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
after(() => new Promise<void>((resolve) => smtp.close(() => resolve())));

const mailsTo = (address: string) => mails.filter((m) => m.to.includes(address));

// ── helpers shared by the blocks ────────────────────────────────────────────

interface OperationalEvent {
  id: string;
  type: string;
  topic: string;
  data: Record<string, unknown>;
}

function helpers(api: () => TestApi) {
  const receivers: TestReceiver[] = [];
  const receiver = async (script?: (request: unknown, index: number) => Reply) => {
    const r = await new TestReceiver(script).start();
    receivers.push(r);
    return r;
  };
  after(async () => {
    for (const r of receivers) await r.stop();
  });

  /** A fresh environment with topic `orders` (type `order.created`) and a receiver subscribed to herald.operational. */
  const setup = async () => {
    const admin = await api().environment();
    const call = async (method: string, url: string, body?: unknown) => api().call(method, url, { as: admin, body });
    assert.equal((await call('POST', '/v1/event-types', { name: 'order.created' })).status, 201);
    assert.equal((await call('POST', '/v1/topics', { name: 'orders', eventTypes: ['order.created'] })).status, 201);
    const ops = await receiver();
    const opsSub = await call('POST', `/v1/topics/${OPERATIONAL_TOPIC}/subscriptions`, { name: 'ops', url: ops.url });
    assert.equal(opsSub.status, 201, JSON.stringify(opsSub.body));
    const subscribe = async (url: string, extra: Record<string, unknown> = {}) => {
      const created = await call('POST', '/v1/topics/orders/subscriptions', {
        name: `s-${Math.random().toString(36).slice(2, 8)}`,
        url,
        ...extra,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body as { id: string };
    };
    const publish = async (events: unknown[]) => {
      const answer = await call('POST', '/v1/topics/orders/events/publish', { events });
      assert.equal(answer.status, 202, JSON.stringify(answer.body));
      return answer.body.events as { id: string; deliveries: number }[];
    };
    /** The event's single delivery once it is in `status`. */
    const deliveryOf = (eventId: string, status: string, timeoutMs = 5000) =>
      eventually(
        async () => {
          const d = (await call('GET', `/v1/events/${eventId}`)).body.deliveries?.[0];
          return d?.status === status ? (d as { id: string; status: string; attempts: number; subscriptionId: string }) : undefined;
        },
        timeoutMs,
        `delivery of ${eventId} ${status}`,
      );
    const attemptsOf = async (deliveryId: string) => {
      const answer = await call('GET', `/v1/deliveries/${deliveryId}/attempts`);
      assert.equal(answer.status, 200);
      return answer.body.data as {
        number: number;
        startedAt: string;
        durationMs: number;
        responseStatus: number | null;
        error: { kind: string; message: string } | null;
        outcome: string;
      }[];
    };
    /** Operational events received so far, parsed. */
    const operational = () => ops.received.map((r) => JSON.parse(r.body) as OperationalEvent);
    /** Waits for the operational event of `type` about `subscriptionId` (and matching `extra`). */
    const operationalEvent = (type: string, subscriptionId: string, extra: (e: OperationalEvent) => boolean = () => true) =>
      eventually(
        async () => operational().find((e) => e.type === type && e.data.subscriptionId === subscriptionId && extra(e)),
        5000,
        `${type} about ${subscriptionId}`,
      );
    return { admin, call, ops, subscribe, publish, deliveryOf, attemptsOf, operational, operationalEvent };
  };
  return { receiver, setup };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeApi(
  'failing deliveries',
  (api) => {
    const { receiver, setup } = helpers(api);
    let admin: Caller;
    let env: Awaited<ReturnType<typeof setup>>;
    before(async () => {
      env = await setup();
      admin = env.admin;
    });

    test('an always-failing receiver: 1 + maxRetries attempts, failed, herald.delivery.failed, one email', async () => {
      const alice = `alice.${api().dialect}@example.test`;
      const hook = await receiver(() => ({ status: 500, body: 'down' }));
      const sub = await env.subscribe(hook.url, { maxRetries: 2, failureEmail: alice });
      const [published] = await env.publish([{ id: 'fail-1', type: 'order.created', data: { n: 1 } }]);
      assert.equal(published?.deliveries, 1);

      const delivery = await env.deliveryOf('fail-1', 'failed');
      assert.equal(delivery.attempts, 3);
      const attempts = await env.attemptsOf(delivery.id);
      assert.deepEqual(
        attempts.map((a) => [a.number, a.responseStatus, a.outcome, a.error?.kind]),
        [
          [1, 500, 'failed', 'http_status'],
          [2, 500, 'failed', 'http_status'],
          [3, 500, 'failed', 'http_status'],
        ],
      );
      assert.equal(hook.received.length, 3);
      assert.ok(hook.received.every((r) => r.headers['webhook-id'] === 'fail-1'));

      const failed = await env.operationalEvent('herald.delivery.failed', sub.id);
      assert.equal(failed.topic, OPERATIONAL_TOPIC);
      assert.deepEqual(
        { ...failed.data, lastError: typeof failed.data.lastError },
        { subscriptionId: sub.id, topic: 'orders', deliveryId: delivery.id, eventId: 'fail-1', batchId: null, attempts: 3, lastError: 'string' },
      );
      // The operational event is an event like any other: listed, with its delivery to the ops subscription.
      const shown = await env.call('GET', `/v1/events/${failed.id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.body.type, 'herald.delivery.failed');
      assert.equal(shown.body.topic, OPERATIONAL_TOPIC);

      const [mail] = await eventually(async () => (mailsTo(alice).length > 0 ? mailsTo(alice) : undefined), 5000, 'failure email');
      assert.match(mail?.subject ?? '', /is failing/);
      assert.match(mail?.text ?? '', new RegExp(sub.id));
      assert.match(mail?.text ?? '', new RegExp(delivery.id));
      // The subscription stays enabled (one failure of the default 10).
      const read = await env.call('GET', `/v1/subscriptions/${sub.id}`);
      assert.equal(read.body.status, 'enabled');
      await sleep(500); // more than two maintenance rounds
      assert.equal(mailsTo(alice).length, 1);
    });

    test('disableAfterFailures: disabled for failures, herald.subscription.disabled, still one email per hour', async () => {
      const bob = `bob.${api().dialect}@example.test`;
      const hook = await receiver(() => ({ status: 503 }));
      const sub = await env.subscribe(hook.url, { maxRetries: 1, disableAfterFailures: 2, failureEmail: bob });
      // The first email is held mid-send (received, not yet acknowledged) while the second
      // delivery fails and disables the subscription: that news must not be swallowed.
      let release = () => {};
      holds.set(bob, new Promise<void>((resolve) => (release = resolve)));
      try {
        await env.publish([{ id: 'dis-1', type: 'order.created' }]);
        await env.deliveryOf('dis-1', 'failed');
        const [first] = await eventually(async () => (mailsTo(bob).length > 0 ? mailsTo(bob) : undefined), 5000, 'first email');
        assert.match(first?.subject ?? '', /is failing/);
        assert.match(first?.text ?? '', /event dis-1/);
        assert.doesNotMatch(first?.text ?? '', /dis-2/);

        await env.publish([{ id: 'dis-2', type: 'order.created' }]);
        await env.deliveryOf('dis-2', 'failed');
        const read = await eventually(async () => {
          const answer = await env.call('GET', `/v1/subscriptions/${sub.id}`);
          return answer.body.status === 'disabled' ? answer.body : undefined;
        }, 5000, 'subscription disabled');
        assert.equal(read.disabledReason, 'failures');
        const disabled = await env.operationalEvent('herald.subscription.disabled', sub.id);
        assert.deepEqual(disabled.data, { subscriptionId: sub.id, topic: 'orders', reason: 'failures', consecutiveFailures: 2 });
        await eventually(
          async () => env.operational().filter((e) => e.type === 'herald.delivery.failed' && e.data.subscriptionId === sub.id).length === 2,
          5000,
          'two herald.delivery.failed',
        );
        await sleep(100);
      } finally {
        holds.delete(bob);
        release();
      }
      assert.equal(env.operational().filter((e) => e.type === 'herald.subscription.disabled' && e.data.subscriptionId === sub.id).length, 1);

      // A disabled subscription gets no new deliveries.
      await env.publish([{ id: 'dis-3', type: 'order.created' }]);
      const listed = await env.call('GET', `/v1/subscriptions/${sub.id}/deliveries`);
      assert.deepEqual(listed.body.data.map((d: { eventId: string }) => d.eventId).sort(), ['dis-1', 'dis-2']);

      // Exactly one email within the hour; the rest is owed, not sent and not forgotten.
      await sleep(500);
      assert.equal(mailsTo(bob).length, 1);
      const owed = await api().deps.store.subscriptionsOwedEmail(Date.now(), 1000);
      assert.ok(
        owed.some((o) => o.subscription.id === sub.id),
        'the second failure and the disabling are owed an email once the hour has passed',
      );
      // An hour later the owed summary goes out, saying the subscription was disabled.
      const mailer = new FailureMailer({ store: api().deps.store, smtpUrl, from: 'Herald <herald@test>', publicUrl: 'http://localhost:8080' });
      try {
        await mailer.sendOwed(Date.now() + EMAIL_INTERVAL_MS + 1000);
      } finally {
        await mailer.close();
      }
      await eventually(async () => mailsTo(bob).length === 2, 5000, 'the owed email');
      const summary = mailsTo(bob)[1];
      assert.match(summary?.subject ?? '', /was disabled/);
      assert.match(summary?.text ?? '', /Status: disabled \(failures\)/);
      assert.match(summary?.text ?? '', /event dis-2/);
    });

    test('a success after exhausted deliveries: herald.subscription.recovered', async () => {
      const hook = await receiver((_, i) => (i === 0 ? { status: 500 } : { status: 200 }));
      const sub = await env.subscribe(hook.url, { maxRetries: 0 });
      await env.publish([{ id: 'rec-1', type: 'order.created' }]);
      const failed = await env.deliveryOf('rec-1', 'failed');
      assert.equal(failed.attempts, 1);
      await env.operationalEvent('herald.delivery.failed', sub.id);
      await env.publish([{ id: 'rec-2', type: 'order.created' }]);
      await env.deliveryOf('rec-2', 'succeeded');
      const recovered = await env.operationalEvent('herald.subscription.recovered', sub.id);
      assert.deepEqual(recovered.data, { subscriptionId: sub.id, topic: 'orders' });
      // A further success is no recovery.
      await env.publish([{ id: 'rec-3', type: 'order.created' }]);
      await env.deliveryOf('rec-3', 'succeeded');
      await sleep(200);
      assert.equal(env.operational().filter((e) => e.type === 'herald.subscription.recovered' && e.data.subscriptionId === sub.id).length, 1);
    });

    test('a receiver slower than timeoutMs: the attempt fails with kind timeout', async () => {
      const hook = await receiver(() => ({ status: 200, delayMs: 1500 }));
      await env.subscribe(hook.url, { timeoutMs: 300, maxRetries: 0 });
      await env.publish([{ id: 'slow-1', type: 'order.created' }]);
      const delivery = await env.deliveryOf('slow-1', 'failed');
      const [attempt] = await env.attemptsOf(delivery.id);
      assert.equal(attempt?.error?.kind, 'timeout');
      assert.equal(attempt?.responseStatus, null);
      assert.equal(attempt?.outcome, 'failed');
      assert.ok((attempt?.durationMs ?? 0) >= 250 && (attempt?.durationMs ?? 0) < 1500, `durationMs ${attempt?.durationMs}`);
    });

    test('410 Gone: failed after one attempt, subscription disabled with reason gone', async () => {
      const carol = `carol.${api().dialect}@example.test`;
      const hook = await receiver(() => ({ status: 410, body: 'gone' }));
      const sub = await env.subscribe(hook.url, { maxRetries: 5, failureEmail: carol });
      await env.publish([{ id: 'gone-1', type: 'order.created' }]);
      const delivery = await env.deliveryOf('gone-1', 'failed');
      assert.equal(delivery.attempts, 1);
      const read = await env.call('GET', `/v1/subscriptions/${sub.id}`);
      assert.equal(read.body.status, 'disabled');
      assert.equal(read.body.disabledReason, 'gone');
      const disabled = await env.operationalEvent('herald.subscription.disabled', sub.id);
      assert.equal(disabled.data.reason, 'gone');
      await env.operationalEvent('herald.delivery.failed', sub.id, (e) => e.data.attempts === 1);
      assert.equal(hook.received.length, 1);
      const [mail] = await eventually(async () => (mailsTo(carol).length > 0 ? mailsTo(carol) : undefined), 5000, 'email');
      assert.match(mail?.subject ?? '', /was disabled/);
      assert.match(mail?.text ?? '', /Status: disabled \(gone\)/);
      await sleep(300);
      assert.equal(mailsTo(carol).length, 1);
    });

    test('a Retry-After longer than the schedule is capped at its largest step', async () => {
      const hook = await receiver((_, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '30' } } : { status: 200 }));
      await env.subscribe(hook.url, { maxRetries: 1 });
      await env.publish([{ id: 'capped-1', type: 'order.created' }]);
      await hook.waitFor(2, 5000);
      const [first, second] = hook.received;
      // 30 s asked for; the schedule's largest step is 40 ms.
      assert.ok((second?.at ?? 0) - (first?.at ?? 0) < 5000);
      await env.deliveryOf('capped-1', 'succeeded');
    });

    test('operational events do not count against the monthly quota', async () => {
      const usage = await api().call('GET', '/v1/usage', { as: admin });
      assert.equal(usage.status, 200);
      const ours = await api().call('GET', '/v1/events?topic=orders&limit=250', { as: admin });
      const all = await api().call('GET', '/v1/events?limit=250', { as: admin });
      assert.ok(env.operational().length > 0);
      assert.ok(all.body.data.some((e: { topic: string }) => e.topic === OPERATIONAL_TOPIC));
      assert.equal(usage.body.published, ours.body.data.length);
    });
  },
  { worker: { retryScheduleMs: [20, 40] }, smtpUrl },
);

describeApi(
  'Retry-After',
  (api) => {
    const { receiver, setup } = helpers(api);

    test('429 with Retry-After: 1 and 503 with an HTTP date wait as asked (up to the largest step)', async () => {
      const env = await setup();
      const seconds = await receiver((_, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 204 }));
      const dated = await receiver((_, i) =>
        i === 0 ? { status: 503, headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } } : { status: 204 },
      );
      await env.subscribe(seconds.url, { maxRetries: 1 });
      await env.subscribe(dated.url, { maxRetries: 1 });
      await env.publish([{ id: 'ra-1', type: 'order.created' }]);
      await Promise.all([seconds.waitFor(2, 8000), dated.waitFor(2, 8000)]);
      for (const hook of [seconds, dated]) {
        const [first, second] = hook.received;
        const gap = (second?.at ?? 0) - (first?.at ?? 0);
        assert.ok(gap >= 900, `the retry came ${gap} ms after the first attempt`);
        assert.ok(gap < 5000, `the retry came ${gap} ms after the first attempt`);
      }
    });
  },
  { worker: { retryScheduleMs: [20, 2000] } },
);
