/** Environments (tenants): the operator's resources. */
import type { Environment, Page, PageRequest } from '../domain/types.ts';
import { notFound } from '../errors.ts';
import { newId } from '../ids.ts';
import type { CoreDeps } from './deps.ts';
import { issueKey } from './keys.ts';
import { ensureOperationalTopic } from './operational.ts';

export interface CreatedEnvironment {
  environment: Environment;
  /** The environment's first admin key, shown once. */
  adminKey: string;
}

function newEnvironment(deps: CoreDeps, name: string, quota: number | null | undefined) {
  const now = deps.clock.now();
  const environment: Environment = {
    id: newId('env', now),
    name,
    monthlyEventQuota: quota === undefined ? deps.defaultMonthlyEventQuota : quota,
    createdAt: now,
    updatedAt: now,
  };
  const key = issueKey(environment.id, 'admin', 'admin', [], now);
  return { environment, key };
}

export async function createEnvironment(
  deps: CoreDeps,
  input: { name: string; monthlyEventQuota?: number | null },
): Promise<CreatedEnvironment> {
  const { environment, key } = newEnvironment(deps, input.name, input.monthlyEventQuota);
  await deps.store.insertEnvironment(environment, key.stored);
  await ensureOperationalTopic(deps, environment.id);
  return { environment, adminKey: key.token };
}

/** On first start with an empty database: environment `default` and its admin key; null if any exists. */
export async function bootstrapDefaultEnvironment(deps: CoreDeps): Promise<CreatedEnvironment | null> {
  const { environment, key } = newEnvironment(deps, 'default', undefined);
  const created = await deps.store.bootstrapFirstEnvironment(environment, key.stored);
  if (!created) return null;
  await ensureOperationalTopic(deps, environment.id);
  return { environment, adminKey: key.token };
}

export const listEnvironments = (deps: CoreDeps, page: PageRequest): Promise<Page<Environment>> =>
  deps.store.listEnvironments(page);

export async function getEnvironment(deps: CoreDeps, id: string): Promise<Environment> {
  const environment = await deps.store.getEnvironment(id);
  if (!environment) throw notFound(`environment ${id}`);
  return environment;
}

export async function updateEnvironment(
  deps: CoreDeps,
  id: string,
  patch: { name?: string; monthlyEventQuota?: number | null },
): Promise<Environment> {
  const current = await getEnvironment(deps, id);
  const updated: Environment = {
    ...current,
    name: patch.name ?? current.name,
    monthlyEventQuota: patch.monthlyEventQuota === undefined ? current.monthlyEventQuota : patch.monthlyEventQuota,
    updatedAt: deps.clock.now(),
  };
  await deps.store.updateEnvironment(updated);
  return updated;
}

export async function deleteEnvironment(deps: CoreDeps, id: string): Promise<void> {
  if (!(await deps.store.deleteEnvironment(id))) throw notFound(`environment ${id}`);
}
