/**
 * Subscriptions (SPEC §4 "Subscriptions", §5, §7): a subscriber's webhook on a topic.
 *
 * Secrets (`signingSecret`, `previousSigningSecret`, `secretHeaderValue`) are sealed with
 * `deps.delivery.secrets` before they reach the store and opened on the way out: every
 * Subscription this module returns carries them in clear, every one it writes carries them sealed.
 * One that cannot be opened reads as UNAVAILABLE_SECRET (see subscription-secrets.ts): reads and
 * writes go on, a write keeps it as stored, and nothing is sent or signed with it.
 *
 * Who may do what is decided twice: the route's roles (admin and subscriber write, publishers only
 * read), then here the topic's visibility: a subscriber key acting on a subscription whose topic
 * it may not see gets the same 404 as for one that does not exist. `scope` records the view of the
 * key that created the subscription or last changed its URL; operational events follow it.
 */
import {
  UNAVAILABLE_SECRET,
  openSubscriptionSecrets,
  sealSubscriptionSecrets,
} from './subscription-secrets.ts';
import { isValidSigningSecret, newSigningSecret } from '../delivery/sign.ts';
import { checkUrlTarget } from '../delivery/url-guard.ts';
import type {
  Page,
  PageRequest,
  Subscription,
  SubscriptionBatch,
  SubscriptionFormat,
  SubscriptionOrdering,
  Topic,
} from '../domain/types.ts';
import { viewOf } from '../domain/visibility.ts';
import { headerNameProblem, headerValueProblem } from '../domain/webhook-headers.ts';
import { type FieldProblem, HeraldError, conflict, invalid, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';
import { type Viewer, getTopic, visibleTopicNames } from './topics.ts';

/** How long a rotated-out signing secret keeps signing (SPEC §4: 24 h). */
export const PREVIOUS_SECRET_TTL_MS = 24 * 60 * 60 * 1000;

/** The updatable fields, as the API takes them (absent = unchanged on update, default on create). */
export interface SubscriptionFields {
  name?: string;
  description?: string | null;
  customId?: string | null;
  metadata?: Record<string, string>;
  events?: string[];
  url?: string;
  format?: SubscriptionFormat;
  /** null clears it; an object replaces it whole. */
  batch?: SubscriptionBatch | null;
  headers?: Record<string, string>;
  secretHeaderName?: string | null;
  secretHeaderValue?: string | null;
  maxRetries?: number;
  timeoutMs?: number;
  rateLimitPerSecond?: number | null;
  ordering?: SubscriptionOrdering;
  failureEmail?: string | null;
  language?: string;
  /** Input only: false = disabled (`disabledReason: manual`), true = enabled (failure count reset). */
  enabled?: boolean;
  disableAfterFailures?: number;
}

/** What creation needs: `name` and `url`, the rest defaults. */
export interface NewSubscriptionInput extends SubscriptionFields {
  name: string;
  url: string;
}

/** A PATCH: the fields to change plus the version they were read at. */
export interface SubscriptionPatch extends SubscriptionFields {
  /** Must equal the stored version (else 409 `version_conflict`); required. */
  version?: number;
}

const DEFAULTS = {
  events: ['*'] as readonly string[],
  format: 'cloudevents' as SubscriptionFormat,
  ordering: 'unordered' as SubscriptionOrdering,
  maxRetries: 3,
  timeoutMs: 5000,
  language: 'en-US',
  disableAfterFailures: 10,
};

/** Internal writes (rotate, enable, disable) re-read and retry this often when another write slips in. */
const MAX_WRITE_TRIES = 5;

// ── secrets at rest ─────────────────────────────────────────────────────────

export const openSecrets = (deps: CoreDeps, s: Subscription): Subscription =>
  openSubscriptionSecrets(deps.delivery.secrets, s);
/** `stored`: the row as read before this write, whose unavailable secrets are kept as they are. */
const sealSecrets = (deps: CoreDeps, s: Subscription, stored?: Subscription): Subscription =>
  sealSubscriptionSecrets(deps.delivery.secrets, s, stored);

// ── checks ──────────────────────────────────────────────────────────────────

/** A JSON pointer segment (RFC 6901): header names may hold `~`. */
const pointer = (segment: string): string => segment.replaceAll('~', '~0').replaceAll('/', '~1');

function checkEvents(topic: Topic, events: string[], problems: FieldProblem[]): void {
  events.forEach((name, i) => {
    if (name !== '*' && !topic.eventTypes.includes(name)) {
      problems.push({ path: `/events/${i}`, message: `${name} is not an event type of topic ${topic.name}` });
    }
  });
}

/**
 * Header rules on the subscription as it would be saved (so a patch is judged with what it keeps).
 * `before` is the subscription a patch starts from: a secret header value it holds that cannot be
 * decrypted is kept as stored, so it is not judged (UNAVAILABLE_SECRET, given by a caller, fails the value rule).
 */
function checkHeaders(s: Subscription, problems: FieldProblem[], before?: Subscription): void {
  const seen = new Set<string>();
  const secretName = s.secretHeaderName?.toLowerCase() ?? null;
  for (const [name, value] of Object.entries(s.headers)) {
    const path = `/headers/${pointer(name)}`;
    const lower = name.toLowerCase();
    const nameProblem = headerNameProblem(name);
    if (nameProblem !== null) problems.push({ path, message: nameProblem });
    else if (lower === secretName)
      problems.push({ path, message: 'is the secretHeaderName; set its value with secretHeaderValue' });
    else if (seen.has(lower)) problems.push({ path, message: 'repeats a header name (names are case-insensitive)' });
    const valueProblem = headerValueProblem(value);
    if (valueProblem !== null) problems.push({ path, message: valueProblem });
    seen.add(lower);
  }
  if ((s.secretHeaderName === null) !== (s.secretHeaderValue === null)) {
    const missing = s.secretHeaderName === null ? '/secretHeaderName' : '/secretHeaderValue';
    problems.push({
      path: missing,
      message: 'secretHeaderName and secretHeaderValue go together: give both or neither',
    });
  }
  const secretNameProblem = s.secretHeaderName === null ? null : headerNameProblem(s.secretHeaderName);
  if (secretNameProblem !== null) problems.push({ path: '/secretHeaderName', message: secretNameProblem });
  const keptUnavailable =
    s.secretHeaderValue === UNAVAILABLE_SECRET && before?.secretHeaderValue === UNAVAILABLE_SECRET;
  const secretValueProblem =
    s.secretHeaderValue === null || keptUnavailable ? null : headerValueProblem(s.secretHeaderValue);
  if (secretValueProblem !== null) problems.push({ path: '/secretHeaderValue', message: secretValueProblem });
}

async function checkUrl(deps: CoreDeps, url: string, problems: FieldProblem[]): Promise<void> {
  const reason = await checkUrlTarget(url, deps.delivery.allowPrivateUrls, deps.delivery.lookup);
  if (reason !== null) problems.push({ path: '/url', message: reason });
}

// ── reading ─────────────────────────────────────────────────────────────────

/** The subscription as stored (sealed), if it exists and the viewer may see its topic; else 404. */
export async function loadVisible(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<{ stored: Subscription; topic: Topic }> {
  const stored = await deps.store.getSubscription(environmentId, id);
  if (!stored) throw notFound(`subscription ${id}`);
  try {
    return { stored, topic: await getTopic(deps, environmentId, stored.topic, viewer) };
  } catch (error) {
    if (error instanceof HeraldError && error.code === 'not_found') throw notFound(`subscription ${id}`);
    throw error;
  }
}

/** The subscription (secrets in clear); 404 when unknown, of another environment, or on a topic the viewer may not see. */
export async function getSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<Subscription> {
  return openSecrets(deps, (await loadVisible(deps, environmentId, id, viewer)).stored);
}

/**
 * Subscriptions of the environment, optionally of one topic and/or one customId. A subscriber key
 * sees only those on topics it may see (a `topic` it may not see lists nothing, like an unknown one).
 */
export async function listSubscriptions(
  deps: CoreDeps,
  environmentId: string,
  filter: { topic?: string; customId?: string },
  page: PageRequest,
  viewer: Viewer,
): Promise<Page<Subscription>> {
  const storeFilter: { topic?: string; customId?: string; topics?: string[] } = { ...filter };
  if (viewer.role === 'subscriber') {
    if (filter.topic !== undefined) {
      try {
        await getTopic(deps, environmentId, filter.topic, viewer);
      } catch (error) {
        if (error instanceof HeraldError && error.code === 'not_found') return { data: [], nextAfter: null };
        throw error;
      }
    } else {
      storeFilter.topics = await visibleTopicNames(deps, environmentId, viewer);
    }
  }
  const found = await deps.store.listSubscriptions(environmentId, storeFilter, page);
  return { data: found.data.map((s) => openSecrets(deps, s)), nextAfter: found.nextAfter };
}

/** Subscriptions of one topic; 404 when the topic does not exist or the viewer may not see it. */
export async function listTopicSubscriptions(
  deps: CoreDeps,
  environmentId: string,
  topic: string,
  page: PageRequest,
  viewer: Viewer,
): Promise<Page<Subscription>> {
  await getTopic(deps, environmentId, topic, viewer);
  const found = await deps.store.listSubscriptions(environmentId, { topic }, page);
  return { data: found.data.map((s) => openSecrets(deps, s)), nextAfter: found.nextAfter };
}

// ── writing ─────────────────────────────────────────────────────────────────

/** `enabled` as status: false → disabled by hand; true → enabled with the failure count reset. */
function applyEnabled(s: Subscription, enabled: boolean | undefined): Subscription {
  if (enabled === undefined) return s;
  return enabled
    ? { ...s, status: 'enabled', disabledReason: null, consecutiveFailures: 0 }
    : { ...s, status: 'disabled', disabledReason: 'manual' };
}

/** Fields copied as given (the others are normalised below). */
const PLAIN_FIELDS = [
  'name',
  'description',
  'customId',
  'url',
  'format',
  'secretHeaderName',
  'secretHeaderValue',
  'maxRetries',
  'timeoutMs',
  'rateLimitPerSecond',
  'ordering',
  'failureEmail',
  'language',
  'disableAfterFailures',
] as const satisfies readonly (keyof SubscriptionFields & keyof Subscription)[];

function withFields(s: Subscription, f: SubscriptionFields): Subscription {
  const { enabled, events, metadata, headers, batch } = f;
  const next: Subscription = { ...s };
  // An allow-list, not a spread: a caller's object never reaches id, topic, secrets or counters.
  for (const key of PLAIN_FIELDS) {
    if (f[key] !== undefined) Object.assign(next, { [key]: f[key] });
  }
  if (metadata !== undefined) next.metadata = { ...metadata };
  if (headers !== undefined) next.headers = { ...headers };
  if (events !== undefined) next.events = [...new Set(events)];
  if (batch !== undefined) next.batch = batch && { maxEvents: batch.maxEvents, maxWaitMs: batch.maxWaitMs };
  return applyEnabled(next, enabled);
}

/**
 * Creates a subscription on a topic the viewer may see: defaults filled in, events checked against
 * the topic, headers against the reserved names, the URL against SPEC §7; a fresh signing secret.
 * 409 when the name is taken in the topic.
 */
export async function createSubscription(
  deps: CoreDeps,
  environmentId: string,
  topicName: string,
  input: NewSubscriptionInput,
  viewer: Viewer,
): Promise<Subscription> {
  const topic = await getTopic(deps, environmentId, topicName, viewer);
  const now = deps.clock.now();
  const blank: Subscription = {
    id: newId('sub', now),
    topic: topic.name,
    name: input.name,
    description: null,
    customId: null,
    metadata: {},
    events: [...DEFAULTS.events],
    url: input.url,
    format: DEFAULTS.format,
    batch: null,
    headers: {},
    secretHeaderName: null,
    secretHeaderValue: null,
    maxRetries: DEFAULTS.maxRetries,
    timeoutMs: DEFAULTS.timeoutMs,
    rateLimitPerSecond: null,
    ordering: DEFAULTS.ordering,
    failureEmail: null,
    language: DEFAULTS.language,
    status: 'enabled',
    disabledReason: null,
    disableAfterFailures: DEFAULTS.disableAfterFailures,
    consecutiveFailures: 0,
    signingSecret: newSigningSecret(),
    previousSigningSecret: null,
    previousSecretExpiresAt: null,
    version: 1,
    lastEmailAt: null,
    scope: viewOf(viewer),
    createdAt: now,
    updatedAt: now,
  };
  const subscription = withFields(blank, input);
  const problems: FieldProblem[] = [];
  checkEvents(topic, subscription.events, problems);
  checkHeaders(subscription, problems);
  if (problems.length === 0) await checkUrl(deps, subscription.url, problems);
  if (problems.length > 0) throw invalid('the subscription is not valid', problems);
  if (!(await deps.store.insertSubscription(environmentId, sealSecrets(deps, subscription)))) {
    throw conflict(`a subscription named ${JSON.stringify(input.name)} already exists on topic ${topic.name}`);
  }
  return subscription;
}

const staleVersion = (id: string, current: number): HeraldError =>
  new HeraldError(
    'version_conflict',
    `subscription ${id} is at version ${current}; read it again and send that version`,
  );

/**
 * Writes `change(current)` with the version bumped. With `expectedVersion` (a caller's PATCH) a
 * mismatch is a 409; without it (rotate, enable, disable) a concurrent write is retried on top.
 * `change` returning null means nothing to write: the current subscription is answered as it is.
 */
async function writeSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
  change: (current: Subscription, topic: Topic) => Promise<Subscription | null> | Subscription | null,
  expectedVersion?: number,
): Promise<Subscription> {
  for (let tries = 1; ; tries++) {
    const { stored, topic } = await loadVisible(deps, environmentId, id, viewer);
    if (expectedVersion !== undefined && stored.version !== expectedVersion) throw staleVersion(id, stored.version);
    const current = openSecrets(deps, stored);
    const changed = await change(current, topic);
    if (changed === null) return current;
    const next: Subscription = { ...changed, version: stored.version + 1, updatedAt: deps.clock.now() };
    const resetFailures = next.consecutiveFailures === 0 && stored.consecutiveFailures !== 0;
    const sealed = sealSecrets(deps, next, stored);
    const outcome = await deps.store.updateSubscription(environmentId, sealed, stored.version, { resetFailures });
    if (outcome === 'updated') return next;
    if (outcome === 'name_taken') {
      throw conflict(`a subscription named ${JSON.stringify(next.name)} already exists on topic ${next.topic}`);
    }
    const now = await deps.store.getSubscription(environmentId, id);
    if (!now) throw notFound(`subscription ${id}`);
    if (expectedVersion !== undefined) throw staleVersion(id, now.version);
    if (tries >= MAX_WRITE_TRIES) throw staleVersion(id, now.version);
  }
}

/** PATCH: `version` must be the stored one (missing or stale → 409, nothing changed). */
export async function updateSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  patch: SubscriptionPatch,
  viewer: Viewer,
): Promise<Subscription> {
  const { version, ...fields } = patch;
  if (version === undefined) {
    // Still a 404 first for what the caller may not see.
    const { stored } = await loadVisible(deps, environmentId, id, viewer);
    throw new HeraldError('version_conflict', `send the current version (${stored.version}) with every update`);
  }
  return writeSubscription(
    deps,
    environmentId,
    id,
    viewer,
    async (current, topic) => {
      const next = withFields(current, fields);
      // Whoever chooses where it goes answers for what may go there (operational events).
      if (next.url !== current.url) next.scope = viewOf(viewer);
      const problems: FieldProblem[] = [];
      if (fields.events !== undefined) checkEvents(topic, next.events, problems);
      checkHeaders(next, problems, current);
      if (problems.length === 0 && next.url !== current.url) await checkUrl(deps, next.url, problems);
      if (problems.length > 0) throw invalid('the subscription is not valid', problems);
      return next;
    },
    version,
  );
}

/** Deletes it; its deliveries not yet sent are cancelled by the store, the attempt log stays. */
export async function deleteSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<void> {
  await loadVisible(deps, environmentId, id, viewer);
  if (!(await deps.store.deleteSubscription(environmentId, id, deps.clock.now()))) throw notFound(`subscription ${id}`);
}

/** Enables it, clearing `disabledReason` and the failure count; no write (and no new version) if already so. */
export function enableSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<Subscription> {
  return writeSubscription(deps, environmentId, id, viewer, (current) =>
    current.status === 'enabled' && current.disabledReason === null && current.consecutiveFailures === 0
      ? null
      : applyEnabled(current, true),
  );
}

/** Disables it by hand (`disabledReason: manual`); no write if it already is. */
export function disableSubscription(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<Subscription> {
  return writeSubscription(deps, environmentId, id, viewer, (current) =>
    current.status === 'disabled' && current.disabledReason === 'manual' ? null : applyEnabled(current, false),
  );
}

// ── signing secrets ─────────────────────────────────────────────────────────

/** The current signing secret, in clear; 503 `unavailable` when it cannot be decrypted. */
export async function getSigningSecret(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
): Promise<string> {
  const { signingSecret } = await getSubscription(deps, environmentId, id, viewer);
  if (signingSecret === UNAVAILABLE_SECRET) {
    throw new HeraldError(
      'unavailable',
      `the signing secret of subscription ${id} cannot be decrypted with this server's ` +
        'HERALD_ENCRYPTION_KEY; rotate it to get a new one',
    );
  }
  return signingSecret;
}

/**
 * Replaces the signing secret with `secret` (a valid `whsec_…`) or a fresh one. The old one keeps
 * signing for 24 h as `previousSigningSecret`; rotating again within that time drops the older
 * one. A current secret that cannot be decrypted cannot sign, so it is dropped rather than kept as
 * the previous one: rotating is how a subscriber recovers from it. Bumps the version. Answers the
 * new secret.
 */
export async function rotateSigningSecret(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  viewer: Viewer,
  secret?: string,
): Promise<string> {
  if (secret !== undefined && !isValidSigningSecret(secret)) {
    throw invalid('the signing secret is not valid', [
      { path: '/signingSecret', message: 'must be whsec_ followed by the base64 of 24 to 64 bytes' },
    ]);
  }
  const fresh = secret ?? newSigningSecret();
  const saved = await writeSubscription(deps, environmentId, id, viewer, (current) => {
    if (fresh === current.signingSecret) {
      throw invalid('the signing secret is not valid', [{ path: '/signingSecret', message: 'is the current secret' }]);
    }
    const keepsSigning = current.signingSecret !== UNAVAILABLE_SECRET;
    return {
      ...current,
      signingSecret: fresh,
      previousSigningSecret: keepsSigning ? current.signingSecret : null,
      previousSecretExpiresAt: keepsSigning ? deps.clock.now() + PREVIOUS_SECRET_TTL_MS : null,
    };
  });
  return saved.signingSecret;
}
