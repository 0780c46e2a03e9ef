/**
 * Admin endpoints of the gateway, under `/admin`, for admin keys only (401 without a valid key,
 * 403 with a key that is not an admin key), checked before the body is read:
 *   POST   /admin/keys        { user, name?, admin?, quota_requests_per_day?, quota_tokens_per_day?, budget_usd_per_month?, expires? }
 *                             -> 201 { key, warning, ...record }: the key is in this answer only
 *   GET    /admin/keys[?user=u1] -> { object: 'list', data: [record] } (prefixes, never keys or hashes)
 *   DELETE /admin/keys/:id    (id or prefix) -> the revoked record; the next request with the key is refused
 *   GET    /admin/routing     -> { object: 'routing.policy', policy, history, rejections, base } (client/routing.ts showRouting)
 *   POST   /admin/routing/rules    { task_type, complexity?, providers, fallback?, require_consensus?, min_providers?, id?, reason? }
 *   POST   /admin/routing/rollback { version, reason? }
 *                             -> the change's outcome { object: 'routing.change', id, status, version?, summary? }:
 *                                200 accepted or unchanged, 202 pending (no worker applied it in time), 400 rejected
 *                                (the workflow's reasons, `param` naming the field); source `gateway:<admin key prefix>`
 * The routing endpoints exist when the routing-policy workflow can be reached (`routing` option).
 * Errors in OpenAI's shape `{ error: { message, type, param, code } }`. A plugin of its own, so it
 * answers the same on the gateway's server (src/gateway/server.ts) and on a bare Fastify app.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { rollback, setRule, showRouting, type RoutingChangeResult, type RoutingClientOptions } from '../../client/routing';
import { ApiKeyError } from '../auth/errors';
import { apiKeyView, parseExpiry, type ApiKeyRecord, type AuthenticationResult, type KeyStore } from '../auth/keys';
import { RoutingRuleSchema } from '../config/schema';
import { OrchestratorError } from '../errors';
import { AUTH_FAILURES, bearerKey } from './auth';

export interface AdminRoutesOptions {
  keys: Pick<KeyStore, 'create' | 'list' | 'revoke'>;
  /** How a raw key is checked (default: the key store's own authenticate). */
  authenticate?: (rawKey: string | undefined) => Promise<AuthenticationResult>;
  /** How the routing-policy workflow is reached (Temporal client, task queue, workflow id); without it no /admin/routing endpoints. */
  routing?: RoutingClientOptions;
}

export const KEY_SHOWN_ONCE = 'This key is shown only now and cannot be shown again (only its hash is stored): keep it somewhere safe.';

class AdminHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}


/** OpenAI's body parameter names for the store's fields (errors name what the client sent). */
const PARAMS: Record<string, string> = {
  userId: 'user',
  name: 'name',
  admin: 'admin',
  quotaRequestsPerDay: 'quota_requests_per_day',
  quotaTokensPerDay: 'quota_tokens_per_day',
  budgetUsdPerMonth: 'budget_usd_per_month',
  expiresAt: 'expires',
  expires: 'expires',
};

function errorBody(message: string, type: string, param: string | null, code: string | null) {
  return { error: { message, type, param, code } };
}


/**
 * The body of POST /admin/keys, checked here (zod, strict) rather than by the app's ajv, whose
 * options (removeAdditional, coercion) belong to whoever builds the server.
 */
const CreateBodySchema = z
  .object({
    user: z.string().min(1, 'must not be empty').max(200, 'at most 200 characters'),
    name: z.string().min(1, 'must not be empty').max(200, 'at most 200 characters').optional(),
    admin: z.boolean().optional(),
    quota_requests_per_day: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
    quota_tokens_per_day: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
    budget_usd_per_month: z.number().positive('must be positive').optional(),
    expires: z.string().min(1).max(64).optional(),
  })
  .strict();

const ListQuerySchema = z.object({ user: z.string().min(1).max(200).optional() }).strict();

const ReasonSchema = z.string().min(1, 'must not be empty').max(500, 'at most 500 characters');

/** The body of POST /admin/routing/rules: a routing rule as config.yaml writes it (the CLI's `routing set-rule`), and why. */
const SetRuleBodySchema = z.object({ ...RoutingRuleSchema.shape, reason: ReasonSchema.optional() }).strict();

const RollbackBodySchema = z.object({ version: z.number().int('must be an integer').min(1, 'must be at least 1'), reason: ReasonSchema.optional() }).strict();

/** `UnknownProvider` -> `unknown_provider` (OpenAI's codes are snake_case). */
function snakeCase(code: string): string {
  return code.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** A change's outcome as the answer: 200 accepted/unchanged, 202 pending; a rejection is a 400 naming the field. */
function changeAnswer(result: RoutingChangeResult, paramOf: (path: string) => string) {
  switch (result.status) {
    case 'accepted':
    case 'unchanged':
      return { status: 200, body: { object: 'routing.change', id: result.id, status: result.status, version: result.version, summary: result.summary } };
    case 'pending':
      return { status: 202, body: { object: 'routing.change', id: result.id, status: 'pending', message: 'sent, not applied yet: is a worker running? GET /admin/routing shows the policy' } };
    case 'rejected': {
      const { code, message, issues } = result.error;
      const first = issues[0];
      return fail(new AdminHttpError(400, `routing change rejected (${code}): ${message}`, 'invalid_request_error', snakeCase(code), first ? paramOf(first.path) : null));
    }
  }
}

/** Temporal unreachable (or the policy workflow not answering) is a 503, not a 500. */
async function viaTemporal<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof OrchestratorError || err instanceof AdminHttpError) throw err;
    throw new AdminHttpError(503, `${what}: the routing-policy workflow could not be reached (${(err as Error).message})`, 'api_error', 'routing_unavailable');
  }
}

function parsed<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const unknownKey = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
  const param = unknownKey ?? (issue?.path.map(String).join('.') || null);
  const what = unknownKey !== undefined ? 'unknown field' : (issue?.message ?? 'invalid');
  return fail(new AdminHttpError(400, `invalid request: ${where}${param ? ` ${param}` : ''}: ${what}`, 'invalid_request_error', 'invalid_request', param));
}

function fail(error: AdminHttpError): never {
  throw error;
}

export function registerAdminRoutes(app: FastifyInstance, options: AdminRoutesOptions): void {
  const { keys } = options;
  const authenticate = options.authenticate ?? (keys as Partial<KeyStore>).authenticate?.bind(keys);
  if (!authenticate) throw new TypeError('registerAdminRoutes: give `authenticate` or a key store that has it');
  /** The admin key each request came with (set by the onRequest hook). */
  const adminKeys = new WeakMap<FastifyRequest, ApiKeyRecord>();

  void app.register(
    (admin, _opts, done) => {
      admin.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
        let e: AdminHttpError;
        if (err instanceof AdminHttpError) e = err;
        else if (err instanceof ApiKeyError) e = new AdminHttpError(err.code === 'ApiKeyNotFound' ? 404 : 409, err.message, 'invalid_request_error', err.code === 'ApiKeyNotFound' ? 'api_key_not_found' : 'ambiguous_key_prefix', 'id');
        else if (err instanceof OrchestratorError && err.code === 'InvalidRequest') {
          const path = (err.details['issues'] as { path: string }[] | undefined)?.[0]?.path;
          e = new AdminHttpError(400, err.message, 'invalid_request_error', 'invalid_request', path ? (PARAMS[path] ?? path) : null);
        } else if (err instanceof OrchestratorError && err.code === 'DatabaseConnectionError') e = new AdminHttpError(503, err.message, 'api_error', 'database_unavailable');
        else if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) e = new AdminHttpError(err.statusCode, err.message, 'invalid_request_error', null);
        else e = new AdminHttpError(500, 'internal error', 'server_error', null);
        return reply.code(e.status).send(errorBody(e.message, e.type, e.param, e.code));
      });

      // Before the body is read: a request without an admin key gets nothing but its 401/403.
      admin.addHook('onRequest', async (request) => {
        const result = await authenticate(bearerKey(request));
        if (!result.ok) throw new AdminHttpError(401, AUTH_FAILURES[result.reason], 'invalid_request_error', 'invalid_api_key');
        if (!result.key.admin) throw new AdminHttpError(403, 'this API key is not an admin key: admin endpoints need a key created with --admin', 'permission_error', 'not_admin');
        adminKeys.set(request, result.key);
      });
      const source = (request: FastifyRequest) => `gateway:${adminKeys.get(request)?.prefix ?? 'unknown'}`;

      admin.post('/keys', async (request, reply) => {
        const b = parsed(CreateBodySchema, request.body, 'body');
        const now = new Date();
        const expiresAt = b.expires !== undefined ? parseExpiry(b.expires, now, 'expires') : undefined;
        const created = await keys.create(
          {
            userId: b.user,
            ...(b.name !== undefined && { name: b.name }),
            ...(b.admin !== undefined && { admin: b.admin }),
            ...(expiresAt !== undefined && { expiresAt }),
            ...(b.quota_requests_per_day !== undefined && { quotaRequestsPerDay: b.quota_requests_per_day }),
            ...(b.quota_tokens_per_day !== undefined && { quotaTokensPerDay: b.quota_tokens_per_day }),
            ...(b.budget_usd_per_month !== undefined && { budgetUsdPerMonth: b.budget_usd_per_month }),
          },
          now,
        );
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .send({ key: created.key, warning: KEY_SHOWN_ONCE, ...apiKeyView(created.record, now) });
      });

      admin.get('/keys', async (request) => {
        const query = parsed(ListQuerySchema, request.query, 'query');
        const records = await keys.list(query.user !== undefined ? { userId: query.user } : {});
        const now = new Date();
        return { object: 'list', data: records.map((r) => apiKeyView(r, now)) };
      });

      admin.delete<{ Params: { id: string } }>('/keys/:id', async (request) => {
        const { key, alreadyRevoked } = await keys.revoke(request.params.id);
        return { ...apiKeyView(key), revoked: true, already_revoked: alreadyRevoked };
      });

      const routing = options.routing;
      if (routing) {
        admin.get('/routing', async () => {
          const view = await viaTemporal('routing show', () => showRouting(routing));
          return { object: 'routing.policy', policy: view.policy, history: view.history, rejections: view.rejections, base: view.base };
        });

        admin.post('/routing/rules', async (request, reply) => {
          const { reason, ...rule } = parsed(SetRuleBodySchema, request.body, 'body');
          const result = await viaTemporal('routing set-rule', () => setRule(routing, { rule, source: source(request), reason: reason ?? 'set through the gateway' }));
          // The workflow names the field as `rule.<field>`; the client sent `<field>`.
          const answer = changeAnswer(result, (path) => path.replace(/^rule\./, ''));
          return reply.code(answer.status).send(answer.body);
        });

        admin.post('/routing/rollback', async (request, reply) => {
          const b = parsed(RollbackBodySchema, request.body, 'body');
          const result = await viaTemporal('routing rollback', () => rollback(routing, { version: b.version, source: source(request), reason: b.reason ?? 'rolled back through the gateway' }));
          const answer = changeAnswer(result, (path) => path);
          return reply.code(answer.status).send(answer.body);
        });
      }

      done();
    },
    { prefix: '/admin' },
  );
}
