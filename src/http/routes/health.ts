import { HeraldError } from '../../errors.ts';
import type { RouteModule } from './types.ts';

export const healthRoutes: RouteModule = (app, deps) => {
  app.get(
    '/healthz',
    { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The process is up' } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    { config: { access: 'public' }, schema: { tags: ['health'], summary: 'The database is reachable' } },
    async () => {
      try {
        await deps.store.ping();
      } catch {
        throw new HeraldError('unavailable', 'the database is not reachable');
      }
      return { status: 'ready' };
    },
  );
};
