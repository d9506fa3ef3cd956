/** Categories: named groups of event types. */
import type { Category, Page, PageRequest } from '../domain/types.ts';
import { conflict, notFound } from '../errors.ts';
import type { CoreDeps } from './deps.ts';

export async function createCategory(
  deps: CoreDeps,
  environmentId: string,
  input: { name: string; description?: string | null },
): Promise<Category> {
  const now = deps.clock.now();
  const category: Category = { name: input.name, description: input.description ?? null, createdAt: now, updatedAt: now };
  if (!(await deps.store.insertCategory(environmentId, category))) {
    throw conflict(`category ${input.name} already exists`);
  }
  return category;
}

export const listCategories = (deps: CoreDeps, environmentId: string, page: PageRequest): Promise<Page<Category>> =>
  deps.store.listCategories(environmentId, page);

export async function getCategory(deps: CoreDeps, environmentId: string, name: string): Promise<Category> {
  const category = await deps.store.getCategory(environmentId, name);
  if (!category) throw notFound(`category ${name}`);
  return category;
}

export async function updateCategory(
  deps: CoreDeps,
  environmentId: string,
  name: string,
  patch: { description?: string | null },
): Promise<Category> {
  const current = await getCategory(deps, environmentId, name);
  const updated: Category = {
    ...current,
    description: patch.description === undefined ? current.description : patch.description,
    updatedAt: deps.clock.now(),
  };
  await deps.store.updateCategory(environmentId, updated);
  return updated;
}

export async function deleteCategory(deps: CoreDeps, environmentId: string, name: string): Promise<void> {
  const outcome = await deps.store.deleteCategory(environmentId, name);
  if (outcome === 'not_found') throw notFound(`category ${name}`);
  if (outcome === 'in_use') throw conflict(`category ${name} is used by event types; move or delete them first`);
}
