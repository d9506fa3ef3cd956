/**
 * The monthly event quota (SPEC §4 Publishing, §2 HERALD_MONTHLY_EVENT_QUOTA, seed 001): counted per
 * accepted event, duplicates free, a batch that does not fit refused whole with 429 + Retry-After,
 * reset on the first day of each month (UTC). GET /v1/usage reports the meter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, type Caller, ROOT_TOKEN, type TestApi, describeApi } from '../../src/testing/test-app.ts';

type Api = () => TestApi;

const MID_MARCH = Date.UTC(2026, 2, 15, 12, 0, 0);
const APRIL_1 = Date.UTC(2026, 3, 1);

function ok(answer: Answer, status: number): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
}

/** An environment with `quota`, event types `a` and `b` in topic `t`. */
async function environment(api: Api, quota: number | null): Promise<Caller> {
  const admin = await api().environment('q', quota);
  await setUp(api, admin);
  return admin;
}

async function setUp(api: Api, admin: Caller): Promise<void> {
  for (const name of ['a', 'b']) {
    ok(await api().call('POST', '/v1/event-types', { as: admin, body: { name } }), 201);
  }
  ok(await api().call('POST', '/v1/topics', { as: admin, body: { name: 't', eventTypes: ['a', 'b'] } }), 201);
}

/** Publishes `n` new events (or the given ones) to topic t. */
function publish(api: Api, as: Caller, events: number | { type: string; id?: string }[]): Promise<Answer> {
  const list = typeof events === 'number' ? Array.from({ length: events }, () => ({ type: 'a' })) : events;
  return api().call('POST', '/v1/topics/t/events/publish', { as, body: { events: list } });
}

async function usage(api: Api, as: Caller) {
  const answer = await api().call('GET', '/v1/usage', { as });
  ok(answer, 200);
  return answer.body;
}

async function storedCount(api: Api, as: Caller): Promise<number> {
  const answer = await api().call('GET', '/v1/events?limit=250', { as });
  ok(answer, 200);
  return answer.body.data.length;
}

/** A 429 quota problem whose Retry-After is the whole seconds from now to the next month. */
function assertQuotaRefusal(answer: Answer, now: number, nextMonth: number): void {
  assert.equal(answer.status, 429, JSON.stringify(answer.body));
  assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
  assert.equal(answer.body.status, 429);
  assert.match(answer.body.type, /quota/);
  assert.equal(typeof answer.body.title, 'string');
  assert.equal(typeof answer.body.detail, 'string');
  const retryAfter = answer.headers['retry-after'];
  assert.match(String(retryAfter), /^\d+$/, 'Retry-After is delay-seconds');
  assert.ok(Number(retryAfter) > 0);
  assert.equal(Number(retryAfter), Math.ceil((nextMonth - now) / 1000));
}

const operator = { authorization: `Bearer ${ROOT_TOKEN}` };

function setQuota(api: Api, environmentId: string, monthlyEventQuota: unknown, headers = operator): Promise<Answer> {
  return api().call('PATCH', `/v1/environments/${environmentId}`, { headers, body: { monthlyEventQuota } });
}

describeApi('monthly event quota', (api) => {
  test('up to the quota is accepted; a batch that would pass it is refused whole with 429 + Retry-After', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 5);
    ok(await publish(api, admin, 3), 202);

    const over = await publish(api, admin, [{ type: 'a', id: 'refused-1' }, { type: 'b' }, { type: 'a' }]);
    assertQuotaRefusal(over, MID_MARCH, APRIL_1);
    assert.equal(over.headers['retry-after'], String(16 * 86400 + 12 * 3600));
    assert.equal(await storedCount(api, admin), 3, 'nothing of the refused batch is stored');
    assert.equal((await usage(api, admin)).published, 3);
    assert.equal((await api().call('GET', '/v1/events/refused-1', { as: admin })).status, 404);

    // Exactly the rest still fits, through either endpoint.
    ok(await publish(api, admin, 1), 202);
    ok(await api().call('POST', '/v1/events/publish', { as: admin, body: { events: [{ type: 'b' }] } }), 202);
    assert.equal((await usage(api, admin)).published, 5);

    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);
    assertQuotaRefusal(
      await api().call('POST', '/v1/events/publish', { as: admin, body: { events: [{ type: 'b' }] } }),
      MID_MARCH,
      APRIL_1,
    );
    assert.equal(await storedCount(api, admin), 5);
    // The id of a refused event was not used up: it is accepted next month.
    api().clock.set(APRIL_1);
    const later = await publish(api, admin, [{ type: 'a', id: 'refused-1' }]);
    ok(later, 202);
    assert.equal(later.body.events[0].status, 'accepted');
  });

  test('a batch larger than the whole quota is refused, even in an unused month', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 2);
    assertQuotaRefusal(await publish(api, admin, 3), MID_MARCH, APRIL_1);
    assert.equal(await storedCount(api, admin), 0);
    assert.equal((await usage(api, admin)).published, 0);
    ok(await publish(api, admin, 2), 202);
  });

  test('quota 0 refuses every new event', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 0);
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-03',
      published: 0,
      quota: 0,
      resetsAt: '2026-04-01T00:00:00.000Z',
    });
  });

  test('duplicates do not count toward the quota', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 3);
    ok(await publish(api, admin, [{ type: 'a', id: 'one' }, { type: 'a', id: 'two' }]), 202);
    assert.equal((await usage(api, admin)).published, 2);

    // Two known ids and one new one: only the new one counts, so it fits.
    const mixed = await publish(api, admin, [
      { type: 'a', id: 'one' },
      { type: 'a', id: 'three' },
      { type: 'a', id: 'two' },
    ]);
    ok(mixed, 202);
    assert.deepEqual(
      mixed.body.events.map((e: { status: string }) => e.status),
      ['duplicate', 'accepted', 'duplicate'],
    );
    assert.equal((await usage(api, admin)).published, 3);

    // At the quota, a batch of duplicates only is still answered 202 and still costs nothing.
    const dupes = await publish(api, admin, [
      { type: 'a', id: 'one' },
      { type: 'b', id: 'three' },
    ]);
    ok(dupes, 202);
    assert.deepEqual(
      dupes.body.events.map((e: { status: string }) => e.status),
      ['duplicate', 'duplicate'],
    );
    assert.equal((await usage(api, admin)).published, 3);

    // One new event among duplicates does not fit: the whole batch is refused.
    assertQuotaRefusal(
      await publish(api, admin, [
        { type: 'a', id: 'one' },
        { type: 'a', id: 'four' },
      ]),
      MID_MARCH,
      APRIL_1,
    );
    assert.equal(await storedCount(api, admin), 3);
    assert.equal((await api().call('GET', '/v1/events/four', { as: admin })).status, 404);
  });

  test('the same id twice in one batch counts once', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 1);
    const answer = await publish(api, admin, [
      { type: 'a', id: 'x' },
      { type: 'a', id: 'x' },
    ]);
    ok(answer, 202);
    assert.equal((await usage(api, admin)).published, 1);
  });

  test('refused and invalid publishes do not count', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 3);
    const invalid = await publish(api, admin, [{ type: 'a' }, { type: 'unknown' }]);
    assert.equal(invalid.status, 400);
    const malformed = await api().call('POST', '/v1/topics/t/events/publish', {
      as: admin,
      payload: '{"events": [',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(malformed.status, 400);
    assert.equal((await usage(api, admin)).published, 0);
    ok(await publish(api, admin, 3), 202);
    assert.equal((await usage(api, admin)).published, 3);
  });

  test('GET /v1/usage: month, published, quota, resetsAt', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 10);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-03',
      published: 0,
      quota: 10,
      resetsAt: '2026-04-01T00:00:00.000Z',
    });
    ok(await publish(api, admin, 4), 202);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-03',
      published: 4,
      quota: 10,
      resetsAt: '2026-04-01T00:00:00.000Z',
    });
    // Readable by admin and publisher keys; not by a subscriber.
    const publisher = await api().key(admin, 'publisher');
    assert.equal((await usage(api, publisher)).published, 4);
    const subscriber = await api().key(admin, 'subscriber');
    assert.equal((await api().call('GET', '/v1/usage', { as: subscriber })).status, 403);
    assert.equal((await api().call('GET', '/v1/usage')).status, 401);
  });

  test('each environment has its own meter', async () => {
    api().clock.set(MID_MARCH);
    const one = await environment(api, 2);
    const two = await environment(api, 2);
    ok(await publish(api, one, 2), 202);
    assert.equal((await usage(api, two)).published, 0);
    ok(await publish(api, two, 2), 202);
    assertQuotaRefusal(await publish(api, one, 1), MID_MARCH, APRIL_1);
  });

  test('the quota resets on the first day of the month, UTC', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 5);
    ok(await publish(api, admin, 5), 202);

    // The last millisecond of March: still full, and Retry-After rounds up to 1 second.
    const lastMs = APRIL_1 - 1;
    api().clock.set(lastMs);
    assertQuotaRefusal(await publish(api, admin, 1), lastMs, APRIL_1);
    assert.equal((await publish(api, admin, 1)).headers['retry-after'], '1');
    assert.equal((await usage(api, admin)).month, '2026-03');

    api().clock.set(Date.UTC(2026, 3, 1, 0, 0, 1));
    assert.deepEqual(await usage(api, admin), {
      month: '2026-04',
      published: 0,
      quota: 5,
      resetsAt: '2026-05-01T00:00:00.000Z',
    });
    ok(await publish(api, admin, 5), 202);
    assert.equal((await usage(api, admin)).published, 5);
    assertQuotaRefusal(await publish(api, admin, 1), api().clock.now(), Date.UTC(2026, 4, 1));
    assert.equal(await storedCount(api, admin), 10, 'March events stay in the log');
  });

  test('December rolls over into January of the next year', async () => {
    const lateDecember = Date.UTC(2026, 11, 31, 23, 0, 0);
    api().clock.set(lateDecember);
    const admin = await environment(api, 1);
    ok(await publish(api, admin, 1), 202);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-12',
      published: 1,
      quota: 1,
      resetsAt: '2027-01-01T00:00:00.000Z',
    });
    const refused = await publish(api, admin, 1);
    assertQuotaRefusal(refused, lateDecember, Date.UTC(2027, 0, 1));
    assert.equal(refused.headers['retry-after'], '3600');
    api().clock.set(Date.UTC(2027, 0, 1));
    ok(await publish(api, admin, 1), 202);
    assert.equal((await usage(api, admin)).month, '2027-01');
  });

  test('concurrent publishes never exceed the quota', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 5);
    const answers = await Promise.all(Array.from({ length: 12 }, () => publish(api, admin, 1)));
    const statuses = answers.map((a) => a.status).sort();
    assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429, 429, 429, 429, 429, 429, 429]);
    assert.equal((await usage(api, admin)).published, 5);
    assert.equal(await storedCount(api, admin), 5);
  });

  test('an unlimited environment never gets 429', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, null);
    for (let i = 0; i < 3; i++) ok(await publish(api, admin, 200), 202);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-03',
      published: 600,
      quota: null,
      resetsAt: '2026-04-01T00:00:00.000Z',
    });
  });

  test('operator PATCH /v1/environments/{id} changes the quota; it applies at once', async () => {
    api().clock.set(MID_MARCH);
    const admin = await environment(api, 2);
    ok(await publish(api, admin, 2), 202);
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);

    // Raise it.
    const raised = await setQuota(api, admin.environmentId, 4);
    ok(raised, 200);
    assert.equal(raised.body.monthlyEventQuota, 4);
    assert.equal(raised.body.id, admin.environmentId);
    assert.equal((await usage(api, admin)).quota, 4);
    ok(await publish(api, admin, 2), 202);
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);

    // Lower it below what is used: the meter keeps its count, and nothing new fits.
    ok(await setQuota(api, admin.environmentId, 1), 200);
    assert.deepEqual(await usage(api, admin), {
      month: '2026-03',
      published: 4,
      quota: 1,
      resetsAt: '2026-04-01T00:00:00.000Z',
    });
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);

    // null = unlimited.
    const unlimited = await setQuota(api, admin.environmentId, null);
    ok(unlimited, 200);
    assert.equal(unlimited.body.monthlyEventQuota, null);
    ok(await publish(api, admin, 10), 202);
    assert.equal((await usage(api, admin)).published, 14);
    assert.equal((await usage(api, admin)).quota, null);

    // And back to a limit, with the GET of the environment agreeing.
    ok(await setQuota(api, admin.environmentId, 14), 200);
    const got = await api().call('GET', `/v1/environments/${admin.environmentId}`, { headers: operator });
    ok(got, 200);
    assert.equal(got.body.monthlyEventQuota, 14);
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);
  });

  test('only the operator may change a quota; bad quotas → 400 and change nothing', async () => {
    const admin = await environment(api, 2);
    // An environment key is not the root token.
    const asAdmin = await api().call('PATCH', `/v1/environments/${admin.environmentId}`, {
      headers: { authorization: `Bearer ${admin.key}` },
      body: { monthlyEventQuota: 100 },
    });
    assert.equal(asAdmin.status, 401);
    const withEnvHeaders = await api().call('PATCH', `/v1/environments/${admin.environmentId}`, {
      as: admin,
      body: { monthlyEventQuota: 100 },
    });
    assert.equal(withEnvHeaders.status, 401);
    assert.equal((await setQuota(api, admin.environmentId, 100, { authorization: 'Bearer wrong' })).status, 401);

    for (const bad of [-1, 1.5, '10', true, {}]) {
      const answer = await setQuota(api, admin.environmentId, bad);
      assert.equal(answer.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(answer.body)}`);
      assert.match(String(answer.headers['content-type']), /^application\/problem\+json/);
    }
    assert.equal((await usage(api, admin)).quota, 2);
    assert.equal((await setQuota(api, 'env_doesnotexist', 5)).status, 404);
  });

  test('an environment created over HTTP with a quota is held to it', async () => {
    api().clock.set(MID_MARCH);
    const created = await api().call('POST', '/v1/environments', {
      headers: operator,
      body: { name: 'via-http', monthlyEventQuota: 1 },
    });
    ok(created, 201);
    assert.equal(created.body.monthlyEventQuota, 1);
    const admin = { environmentId: created.body.id as string, key: created.body.apiKey as string };
    await setUp(api, admin);
    ok(await publish(api, admin, 1), 202);
    assertQuotaRefusal(await publish(api, admin, 1), MID_MARCH, APRIL_1);
  });
});

describeApi(
  'monthly event quota: the deployment default (HERALD_MONTHLY_EVENT_QUOTA)',
  (api) => {
    test('environments created without a quota get the default; an explicit null means unlimited', async () => {
      api().clock.set(MID_MARCH);
      const create = (body: Record<string, unknown>) =>
        api().call('POST', '/v1/environments', { headers: operator, body });

      const byDefault = await create({ name: 'default-quota' });
      ok(byDefault, 201);
      assert.equal(byDefault.body.monthlyEventQuota, 2);
      const limited = { environmentId: byDefault.body.id as string, key: byDefault.body.apiKey as string };
      await setUp(api, limited);
      ok(await publish(api, limited, 2), 202);
      assertQuotaRefusal(await publish(api, limited, 1), MID_MARCH, APRIL_1);
      assert.equal((await usage(api, limited)).quota, 2);

      const unlimited = await create({ name: 'no-quota', monthlyEventQuota: null });
      ok(unlimited, 201);
      assert.equal(unlimited.body.monthlyEventQuota, null);
      const free = { environmentId: unlimited.body.id as string, key: unlimited.body.apiKey as string };
      await setUp(api, free);
      ok(await publish(api, free, 5), 202);

      const own = await create({ name: 'own-quota', monthlyEventQuota: 7 });
      assert.equal(own.body.monthlyEventQuota, 7);
    });
  },
  { defaultMonthlyEventQuota: 2 },
);
