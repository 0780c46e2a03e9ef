/**
 * docker-compose.yml against the Compose Specification's own JSON schema (vendored in
 * deploy/compose-spec/, source and version in SOURCE.md), with ajv: a check nobody here wrote,
 * beside our structure test (compose.test.ts). The schema is also shown to refuse what Compose
 * refuses (an unknown key, a wrong type), so a schema that accepts anything would fail here.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const SCHEMA_FILE = join(ROOT, 'deploy', 'compose-spec', 'compose-spec.json');
const schemaText = readFileSync(SCHEMA_FILE, 'utf8');
const schema = JSON.parse(schemaText) as Record<string, unknown>;
// The schema names its draft as https://json-schema.org/draft-07/schema, which ajv knows under its
// http:// id; the draft itself is draft-07 either way, so the keyword is dropped before compiling.
const { $schema: _draft, ...compilable } = schema;
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(compilable);

function problems(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`);
}

// Compose resolves `<<:` merge keys (the x-app anchor) before validating; so does the parser.
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Record<string, unknown>> };

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('is the vendored schema named in SOURCE.md', () => {
    const source = readFileSync(join(ROOT, 'deploy', 'compose-spec', 'SOURCE.md'), 'utf8');
    const sha = createHash('sha256').update(schemaText).digest('hex');
    expect(source).toContain(sha);
    expect(schema['title']).toBe('Compose Specification');
  });

  it('validates', () => {
    expect(problems(compose)).toEqual([]);
  });

  it('sets the worker replicas through deploy.replicas', () => {
    const replicas = (compose.services['worker']?.['deploy'] as { replicas?: unknown } | undefined)?.replicas;
    expect(replicas).toBe('${WORKER_REPLICAS:-1}');
  });

  it('refuses an unknown service key and a wrongly typed value', () => {
    const copy = structuredClone(compose);
    copy.services['worker']!['replica'] = 3;
    copy.services['worker']!['deploy'] = { replicas: [3] };
    copy.services['postgresql']!['healthcheck'] = { retries: true };
    const found = problems(copy);
    expect(found).toEqual(expect.arrayContaining(['/services/worker must NOT have additional properties (replica)', '/services/worker/deploy/replicas must be integer,string', '/services/postgresql/healthcheck/retries must be number,string']));
  });
});
