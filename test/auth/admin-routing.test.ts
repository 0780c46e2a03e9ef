/**
 * The gateway's admin routing endpoints (src/gateway/admin.ts) on the whole gateway (start.ts, a
 * worker in its process, the test dev server, a private task queue and a private routing-policy
 * workflow): only an admin key reads or changes the policy; a change is answered with what the
 * routing-policy workflow made of it, a rejected one with a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayStack, type GatewayTestStack } from '../gateway/gateway-stack';

let stack: GatewayTestStack;
let adminKey: string;
let adminPrefix: string;
let userKey: string;

beforeAll(async () => {
  stack = await startGatewayStack('admin-routing');
  const admin = await stack.gateway.keys.create({ userId: 'ops', admin: true });
  adminKey = admin.key;
  adminPrefix = admin.record.prefix;
  userKey = (await stack.gateway.keys.create({ userId: 'u1' })).key;
});
afterAll(async () => {
  await stack?.close();
});

interface PolicyAnswer {
  object: string;
  policy: { version: number; source: string; reason: string; rules: { id?: string; task_type: string; complexity: string; providers: string[]; require_consensus: boolean }[] };
  history: { version: number; kind: string; source: string }[];
  rejections: { kind: string; source: string | null; error: { code: string } }[];
  base: unknown;
}
interface ErrorAnswer {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function call<T>(method: 'GET' | 'POST', path: string, key: string | null, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.gateway.url}${path}`, {
    method,
    headers: { ...(key !== null && { authorization: `Bearer ${key}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

const policy = async () => {
  const res = await call<PolicyAnswer>('GET', '/admin/routing', adminKey);
  expect(res.status).toBe(200);
  return res.body;
};

const rule = { task_type: 'translation', complexity: 'medium', providers: ['openai', 'anthropic'], require_consensus: true, reason: 'two opinions on translations' };

describe('admin routing endpoints', () => {
  it('401 without a key or with an invalid one; 403 with a non-admin key, and the policy stays as it was', async () => {
    const before = await policy();
    expect(before.object).toBe('routing.policy');
    expect(before.history.length).toBeGreaterThanOrEqual(1);

    const none = await call<ErrorAnswer>('GET', '/admin/routing', null);
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('invalid_api_key');
    const invalid = await call<ErrorAnswer>('POST', '/admin/routing/rules', `sk-orch-${'x'.repeat(43)}`, rule);
    expect(invalid.status).toBe(401);

    for (const [method, path, body] of [
      ['GET', '/admin/routing', undefined],
      ['POST', '/admin/routing/rules', rule],
      ['POST', '/admin/routing/rollback', { version: 1 }],
    ] as const) {
      const res = await call<ErrorAnswer>(method, path, userKey, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error).toMatchObject({ type: 'permission_error', code: 'not_admin' });
    }

    const after = await policy();
    expect(after.policy).toEqual(before.policy);
    expect(after.history).toEqual(before.history);
    expect(after.policy.rules.some((r) => r.task_type === 'translation')).toBe(false);
  });

  it('an admin key sets a rule (accepted as a new version, source gateway:<key prefix>), GET shows it; the same rule again is unchanged; a rollback undoes it', async () => {
    const before = await policy();
    const set = await call<{ object: string; status: string; version: number; summary: string }>('POST', '/admin/routing/rules', adminKey, rule);
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ object: 'routing.change', status: 'accepted' });
    expect(set.body.version).toBeGreaterThan(before.policy.version);
    expect(set.body.summary).toMatch(/set rule .*translation\/medium/);

    const after = await policy();
    expect(after.policy).toMatchObject({ version: set.body.version, source: `gateway:${adminPrefix}`, reason: 'two opinions on translations' });
    expect(after.policy.rules).toContainEqual(expect.objectContaining({ task_type: 'translation', complexity: 'medium', providers: ['openai', 'anthropic'], require_consensus: true }));
    expect(after.history.at(-1)).toMatchObject({ version: set.body.version, source: `gateway:${adminPrefix}` });
    expect(adminPrefix).toMatch(/^sk-orch-.{8}$/);

    const again = await call<{ status: string; version: number }>('POST', '/admin/routing/rules', adminKey, rule);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'unchanged', version: set.body.version });

    const back = await call<{ status: string; version: number }>('POST', '/admin/routing/rollback', adminKey, { version: before.policy.version, reason: 'undo the test rule' });
    expect(back.status).toBe(200);
    expect(back.body.status).toBe('accepted');
    const rolled = await policy();
    expect(rolled.policy.version).toBe(back.body.version);
    expect(rolled.policy.rules).toEqual(before.policy.rules);
    expect(rolled.policy.source).toBe(`gateway:${adminPrefix}`);
  });

  it('an invalid rule or rollback is a 400 naming the field, in OpenAI error shape, and changes nothing', async () => {
    const before = await policy();
    const cases: [string, unknown, string, string][] = [
      // Refused by the schema here, before anything is sent.
      ['/admin/routing/rules', { task_type: 'code_generation', providers: [] }, 'providers', 'invalid_request'],
      ['/admin/routing/rules', { providers: ['openai'] }, 'task_type', 'invalid_request'],
      ['/admin/routing/rules', { ...rule, colour: 'red' }, 'colour', 'invalid_request'],
      ['/admin/routing/rules', { ...rule, complexity: 'extreme' }, 'complexity', 'invalid_request'],
      ['/admin/routing/rollback', { version: 0 }, 'version', 'invalid_request'],
      // Refused by the routing-policy workflow (checked against the configured providers).
      ['/admin/routing/rules', { ...rule, providers: ['openai', 'nosuchprovider'] }, 'providers.1', 'unknown_provider'],
      ['/admin/routing/rules', { ...rule, providers: ['openai'], min_providers: 3 }, 'min_providers', 'invalid_rule'],
      ['/admin/routing/rollback', { version: 99_999 }, 'version', 'unknown_version'],
    ];
    for (const [path, body, param, code] of cases) {
      const res = await call<ErrorAnswer>('POST', path, adminKey, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys(res.body)).toEqual(['error']);
      expect(res.body.error, JSON.stringify(body)).toMatchObject({ type: 'invalid_request_error', param, code });
      expect(res.body.error.message).toContain(param === 'providers.1' ? 'nosuchprovider' : param.split('.')[0]);
    }
    const after = await policy();
    expect(after.policy).toEqual(before.policy);
    // The workflow's refusals are on record with who sent them.
    expect(after.rejections.filter((r) => r.source === `gateway:${adminPrefix}`).map((r) => r.error.code)).toEqual(expect.arrayContaining(['UnknownProvider', 'InvalidRule', 'UnknownVersion']));
  });
});
