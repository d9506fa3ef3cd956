/** The monthly event quota's meter (SPEC §4 Publishing, seed 001). */
import { monthOf, startOfNextMonth } from '../domain/month.ts';
import type { Usage } from '../domain/types.ts';
import type { CoreDeps } from './deps.ts';
import { getEnvironment } from './environments.ts';

export async function getUsage(deps: CoreDeps, environmentId: string): Promise<Usage> {
  const now = deps.clock.now();
  const month = monthOf(now);
  const [environment, published] = await Promise.all([
    getEnvironment(deps, environmentId),
    deps.store.getMonthlyUsage(environmentId, month),
  ]);
  return { month, published, quota: environment.monthlyEventQuota, resetsAt: startOfNextMonth(now) };
}
