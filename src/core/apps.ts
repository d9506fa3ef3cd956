/** Apps: publisher applications whose topics only subscriber keys holding one of their permissions may see. */
import type { App, Page, PageRequest } from '../domain/types.ts';
import { type Viewer, mayAccessApp } from '../domain/visibility.ts';
import { conflict, notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';

export async function createApp(
  deps: CoreDeps,
  environmentId: string,
  input: { name: string; permissions: string[] },
): Promise<App> {
  const now = deps.clock.now();
  const app: App = {
    id: newId('app', now),
    name: input.name,
    permissions: [...new Set(input.permissions)],
    createdAt: now,
    updatedAt: now,
  };
  await deps.store.insertApp(environmentId, app);
  return app;
}

export const listApps = (deps: CoreDeps, environmentId: string, page: PageRequest): Promise<Page<App>> =>
  deps.store.listApps(environmentId, page);

export async function getApp(deps: CoreDeps, environmentId: string, id: string): Promise<App> {
  const app = await deps.store.getApp(environmentId, id);
  if (!app) throw notFound(`app ${id}`);
  return app;
}

export async function updateApp(
  deps: CoreDeps,
  environmentId: string,
  id: string,
  patch: { name?: string; permissions?: string[] },
): Promise<App> {
  const current = await getApp(deps, environmentId, id);
  const updated: App = {
    ...current,
    name: patch.name ?? current.name,
    permissions: patch.permissions ? [...new Set(patch.permissions)] : current.permissions,
    updatedAt: deps.clock.now(),
  };
  await deps.store.updateApp(environmentId, updated);
  return updated;
}

export async function deleteApp(deps: CoreDeps, environmentId: string, id: string): Promise<void> {
  const outcome = await deps.store.deleteApp(environmentId, id);
  if (outcome === 'not_found') throw notFound(`app ${id}`);
  if (outcome === 'in_use') throw conflict(`app ${id} owns topics; delete them or move them to another app first`);
}

/** Ids of the apps whose topics the viewer may see (domain/visibility.ts decides). */
export async function appsVisibleTo(deps: CoreDeps, environmentId: string, key: Viewer): Promise<string[]> {
  const visible: string[] = [];
  let page: PageRequest = { limit: 250, after: null };
  for (;;) {
    const apps = await deps.store.listApps(environmentId, page);
    for (const app of apps.data) if (mayAccessApp(key, app)) visible.push(app.id);
    if (!apps.nextAfter) return visible;
    page = { limit: 250, after: apps.nextAfter };
  }
}
