/**
 * Who may see what inside an environment (SPEC §1 API key, §4 Subscriptions): the one rule the
 * API applies to topics and the subscriptions on them, and that operational events follow.
 *
 * - Admin and publisher keys see every topic.
 * - A subscriber key sees every topic owned by no app, and an app's topics when it holds one of
 *   the app's permissions.
 */
import type { ApiKey, App, Topic } from './types.ts';

/** Who is looking: a key's role and permissions (nothing else of the key matters here). */
export type Viewer = Pick<ApiKey, 'role' | 'permissions'>;

/** The view of a key that sees everything (a fresh object: callers may keep it). */
export const fullView = (): Viewer => ({ role: 'admin', permissions: [] });

/** Whether the viewer sees every topic, whatever owns it. */
export const seesEverything = (viewer: Viewer): boolean => viewer.role !== 'subscriber';

/** Whether the viewer may see the topics the app owns. */
export function mayAccessApp(viewer: Viewer, app: Pick<App, 'permissions'>): boolean {
  if (seesEverything(viewer)) return true;
  return app.permissions.some((p) => viewer.permissions.includes(p));
}

/**
 * Whether the viewer may see the topic. `app` is the topic's owner as stored (null when it has
 * none). `topic` null stands for one whose owner cannot be known any more (it was deleted): only
 * a viewer that sees everything sees it.
 */
export function maySeeTopic(viewer: Viewer, topic: Pick<Topic, 'appId'> | null, app: App | null): boolean {
  if (seesEverything(viewer)) return true;
  if (topic === null) return false;
  if (topic.appId === null) return true;
  return app !== null && app.id === topic.appId && mayAccessApp(viewer, app);
}

/**
 * The view to record for a key (a subscription's `scope`): a subscriber's permissions, sorted and
 * without repeats; any other role sees everything.
 */
export function viewOf(viewer: Viewer): Viewer {
  if (seesEverything(viewer)) return fullView();
  return { role: 'subscriber', permissions: [...new Set(viewer.permissions)].sort() };
}
