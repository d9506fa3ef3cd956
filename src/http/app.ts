/**
 * buildApp: the whole HTTP API as a Fastify instance that never listens (tests use inject();
 * server.ts binds the port). Thin by design: parse → authorise → call core → present.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { CoreDeps } from '../core/deps.ts';
import { HeraldError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { makeAuthHook } from './auth.ts';
import { useJsonBodyParser } from './json-body.ts';
import { handleError, sendProblem } from './problem.ts';
import { DEFAULT_HTTP_LIMITS, type HttpLimits, applyConnectionLimits, serverOptionsFor } from './server-limits.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { appRoutes } from './routes/apps.ts';
import { categoryRoutes } from './routes/categories.ts';
import { environmentRoutes } from './routes/environments.ts';
import { eventTypeRoutes } from './routes/event-types.ts';
import { eventRoutes } from './routes/events.ts';
import { healthRoutes } from './routes/health.ts';
import { publishRoutes } from './routes/publish.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { deliveryRoutes } from './routes/deliveries.ts';
import { topicRoutes } from './routes/topics.ts';

export interface AppOptions {
  deps: CoreDeps;
  /** HERALD_ROOT_TOKEN; null disables the operator API. */
  rootToken: string | null;
  /** HERALD_MAX_BODY_BYTES. */
  maxBodyBytes: number;
  /** pino level, or false for no request logging (tests). */
  logLevel: string | false;
  /** Timeouts and connection limits of the server; each one missing takes its DEFAULT_HTTP_LIMITS value. */
  limits?: Partial<HttpLimits>;
}

type AjvInstance = InstanceType<typeof Ajv>;

function makeAjv(coerce: boolean): AjvInstance {
  // Bodies are taken as sent: a wrong type is a 400, never silently coerced, and unknown fields
  // are refused rather than dropped. Query strings and paths are text, so they are coerced.
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  (addFormats as unknown as (a: AjvInstance) => void)(ajv);
  return ajv;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits };
  const app = Fastify({
    ...serverOptionsFor(limits),
    bodyLimit: options.maxBodyBytes,
    logger:
      options.logLevel === false
        ? false
        : { level: options.logLevel, redact: ['req.headers["x-auth-token"]', 'req.headers.authorization'] },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    return503OnClosing: true,
    // Router errors (a path parameter over maxParamLength, bad percent-encoding) skip the error
    // handler unless routed here; they are problem+json like every other error.
    frameworkErrors: handleError,
  });

  applyConnectionLimits(app.server, limits, app.log);

  const bodyAjv = makeAjv(false);
  const textAjv = makeAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? bodyAjv.compile(schema) : textAjv.compile(schema),
  );
  useJsonBodyParser(app);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, new HeraldError('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
  app.addHook('onRequest', makeAuthHook(options.deps, options.rootToken));

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Herald',
        version: VERSION,
        description: 'Self-hosted, multi-tenant webhook event publishing. Errors are application/problem+json.',
      },
      components: {
        securitySchemes: {
          environmentId: { type: 'apiKey', in: 'header', name: 'x-environment-id' },
          authToken: { type: 'apiKey', in: 'header', name: 'x-auth-token' },
          bearer: { type: 'http', scheme: 'bearer', description: 'an API key' },
          rootToken: { type: 'http', scheme: 'bearer', description: 'HERALD_ROOT_TOKEN' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/openapi.json', { config: { access: 'public' }, schema: { hide: true } }, async () => app.swagger());

  const deps = options.deps;
  for (const routes of [
    healthRoutes,
    environmentRoutes,
    apiKeyRoutes,
    categoryRoutes,
    eventTypeRoutes,
    appRoutes,
    topicRoutes,
    subscriptionRoutes,
    deliveryRoutes,
    publishRoutes,
    eventRoutes,
  ]) {
    routes(app, deps);
  }
  await app.ready();
  return app;
}
