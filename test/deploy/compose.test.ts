/**
 * The deployment files, checked without a Docker engine: docker-compose.yml, the Dockerfile and
 * .env.example. The checks are plain functions returning the problems they find; each runs on
 * the real files (no problems) and on mutated copies (the problem is reported), so a check
 * that can never fail would show up here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registeredSeriesNames, TEMPORAL_SDK_SERIES } from '../../src/metrics/definitions';

const ROOT = join(__dirname, '..', '..');
const read = (file: string): string => readFileSync(join(ROOT, file), 'utf8');

// ---------------------------------------------------------------------------------------------
// Small readers over untyped YAML
// ---------------------------------------------------------------------------------------------

type Doc = Record<string, unknown>;

function isRecord(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function services(doc: unknown): Record<string, Doc> {
  const out: Record<string, Doc> = {};
  if (!isRecord(doc) || !isRecord(doc['services'])) return out;
  for (const [name, value] of Object.entries(doc['services'])) {
    if (isRecord(value)) out[name] = value;
  }
  return out;
}

/** `environment:` as a map, whether written as a map or as a list of NAME=value. */
function environment(service: Doc): Record<string, string> {
  const env = service['environment'];
  const out: Record<string, string> = {};
  if (Array.isArray(env)) {
    for (const item of env) {
      if (typeof item !== 'string') continue;
      const i = item.indexOf('=');
      if (i > 0) out[item.slice(0, i)] = item.slice(i + 1);
    }
  } else if (isRecord(env)) {
    for (const [key, value] of Object.entries(env)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[key] = String(value);
    }
  }
  return out;
}

/** `depends_on:` as service -> condition (the short list form means service_started). */
function dependsOn(service: Doc): Record<string, string> {
  const deps = service['depends_on'];
  const out: Record<string, string> = {};
  if (Array.isArray(deps)) {
    for (const name of deps) if (typeof name === 'string') out[name] = 'service_started';
  } else if (isRecord(deps)) {
    for (const [name, value] of Object.entries(deps)) {
      const condition = isRecord(value) ? value['condition'] : undefined;
      out[name] = typeof condition === 'string' ? condition : 'service_started';
    }
  }
  return out;
}

/** Published ports as { host, container }, from the short ("[ip:]host:container") or long syntax. */
function ports(service: Doc): { host: number | null; container: number }[] {
  const list = service['ports'];
  if (!Array.isArray(list)) return [];
  const out: { host: number | null; container: number }[] = [];
  for (const entry of list) {
    if (typeof entry === 'string' || typeof entry === 'number') {
      const parts = String(entry).replace(/\/(tcp|udp)$/, '').split(':');
      const container = Number(parts[parts.length - 1]);
      const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : null;
      out.push({ host: host !== null && Number.isInteger(host) ? host : null, container });
    } else if (isRecord(entry)) {
      const published = entry['published'];
      out.push({ host: published === undefined ? null : Number(published), container: Number(entry['target']) });
    }
  }
  return out;
}

function commandText(service: Doc): string {
  const command = service['command'];
  if (Array.isArray(command)) return command.map(String).join(' ');
  return typeof command === 'string' ? command : '';
}

/** True when `ref` names an exact version: a digest, or a tag with at least major.minor. */
function isPinnedImage(ref: string): boolean {
  if (ref.includes('${')) return false; // a variable tag is not a pin anyone can read
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  if (colon < 0) return false;
  const tag = ref.slice(colon + 1);
  return tag !== 'latest' && /^v?\d+\.\d+/.test(tag);
}

/** A value that is wholly a `${VAR}` substitution without an inline default (`:?message` is fine). */
function isSecretSubstitution(value: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-|:?\?[^}]*)?\}$/.test(value);
}

const SECRET_NAME = /(API_KEY|PASSWORD|PWD|SECRET|TOKEN|_KEYS)$/;

// ---------------------------------------------------------------------------------------------
// The checks
// ---------------------------------------------------------------------------------------------

interface ComposeCheckOptions {
  /** Environment variables holding provider keys (config.yaml: models.*.api_key_env). */
  providerKeyVars: string[];
  /** Whether a path relative to the repository root exists (for build contexts and Dockerfiles). */
  fileExists: (relativePath: string) => boolean;
  /** npm script names of package.json (the containers run some of them). */
  npmScripts: string[];
}

const REQUIRED_SERVICES = ['postgresql', 'temporal', 'temporal-ui', 'migrate', 'worker'] as const;

function checkCompose(doc: unknown, options: ComposeCheckOptions): string[] {
  const problems: string[] = [];
  const all = services(doc);
  const names = Object.keys(all);

  for (const name of REQUIRED_SERVICES) {
    if (!all[name]) problems.push(`service "${name}" is missing`);
  }

  // Pins and healthchecks the dependency conditions rely on.
  for (const [name, service] of Object.entries(all)) {
    const image = service['image'];
    if (image === undefined && service['build'] === undefined) problems.push(`service "${name}" has neither image nor build`);
    if (typeof image === 'string' && !isPinnedImage(image)) problems.push(`service "${name}": image "${image}" is not pinned to an exact version`);
    for (const [dep, condition] of Object.entries(dependsOn(service))) {
      if (!all[dep]) problems.push(`service "${name}" depends on unknown service "${dep}"`);
      else if (condition === 'service_healthy' && !isRecord(all[dep]['healthcheck'])) {
        problems.push(`service "${name}" waits for "${dep}" to be healthy, but "${dep}" has no healthcheck`);
      }
    }
    for (const [key, value] of Object.entries(environment(service))) {
      if (SECRET_NAME.test(key) && !isSecretSubstitution(value)) {
        problems.push(`service "${name}": ${key} must be a \${VAR} substitution without an inline value, not "${value}"`);
      }
    }
  }

  const imageOf = (name: string): string => {
    const image = all[name]?.['image'];
    return typeof image === 'string' ? image : '';
  };
  const isService = (host: string): boolean => names.includes(host);

  // Dependency order.
  const expectDependency = (service: string, on: string, conditions: string[]): void => {
    const s = all[service];
    if (!s) return;
    const condition = dependsOn(s)[on];
    if (condition === undefined) problems.push(`"${service}" does not depend on "${on}"`);
    else if (!conditions.includes(condition)) problems.push(`"${service}" waits for "${on}" with ${condition}, expected ${conditions.join(' or ')}`);
  };
  expectDependency('temporal', 'postgresql', ['service_healthy']);
  expectDependency('migrate', 'postgresql', ['service_healthy']);
  expectDependency('worker', 'migrate', ['service_completed_successfully']);
  expectDependency('worker', 'temporal', ['service_healthy']);
  expectDependency('temporal-ui', 'temporal', ['service_started', 'service_healthy']);

  // Temporal server persisted in the postgresql service.
  const temporal = all['temporal'];
  if (temporal) {
    if (!/^temporalio\/(auto-setup|server):/.test(imageOf('temporal'))) problems.push('temporal: image is not temporalio/auto-setup or temporalio/server');
    const env = environment(temporal);
    if (env['DB'] !== 'postgres12') problems.push(`temporal: DB is "${env['DB'] ?? ''}", expected postgres12`);
    if (env['POSTGRES_SEEDS'] !== 'postgresql') problems.push(`temporal: POSTGRES_SEEDS is "${env['POSTGRES_SEEDS'] ?? ''}", expected the postgresql service`);
    if (!ports(temporal).some((p) => p.container === 7233 && p.host === 7233)) problems.push('temporal: port 7233 is not published');
  }
  const ui = all['temporal-ui'];
  if (ui) {
    if (!imageOf('temporal-ui').startsWith('temporalio/ui:')) problems.push('temporal-ui: image is not temporalio/ui');
    if (environment(ui)['TEMPORAL_ADDRESS'] !== 'temporal:7233') problems.push('temporal-ui: TEMPORAL_ADDRESS is not temporal:7233');
    if (!ports(ui).some((p) => p.container === 8080 && p.host === 8080)) problems.push('temporal-ui: port 8080 is not published');
  }
  const postgresql = all['postgresql'];
  if (postgresql) {
    if (!imageOf('postgresql').startsWith('postgres:')) problems.push('postgresql: image is not postgres');
    if (!isRecord(postgresql['healthcheck'])) problems.push('postgresql: no healthcheck');
    if (!Array.isArray(postgresql['volumes']) || postgresql['volumes'].length === 0) problems.push('postgresql: no volume for its data');
  }

  // The app's containers: one image built from the repository's Dockerfile, npm scripts that exist.
  const runsScript = (service: string, script: string): void => {
    const s = all[service];
    if (!s) return;
    if (!commandText(s).includes(`npm run ${script}`)) problems.push(`${service}: command does not run "npm run ${script}"`);
    if (!options.npmScripts.includes(script)) problems.push(`${service}: package.json has no "${script}" script`);
  };
  runsScript('migrate', 'db:migrate');
  const migrate = all['migrate'];
  if (migrate && migrate['restart'] !== undefined && migrate['restart'] !== 'no') problems.push('migrate: a one-shot job must not restart');

  // The codec server decrypts what the worker encrypts: the same key list, and the Web UI's origin allowed.
  const codec = all['codec-server'];
  if (!codec) problems.push('codec-server: missing (nothing could decode the encrypted payloads)');
  else {
    if (!commandText(codec).includes('codec-server/main.js') && !commandText(codec).includes('npm run codec-server')) problems.push('codec-server: command does not start the codec server');
    const codecEnv = environment(codec);
    const workerKeys = all['worker'] ? environment(all['worker'])['PAYLOAD_KEYS'] : undefined;
    const codecKeys = /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(codecEnv['PAYLOAD_KEYS'] ?? '')?.[1];
    if (!codecKeys || codecKeys !== /^\$\{([A-Za-z_][A-Za-z0-9_]*)/.exec(workerKeys ?? '')?.[1]) problems.push('codec-server: PAYLOAD_KEYS is not the worker\'s PAYLOAD_KEYS');
    const uiPort = all['temporal-ui'] ? ports(all['temporal-ui']).find((p) => p.container === 8080)?.host : undefined;
    const origins = (codecEnv['CODEC_SERVER_CORS_ORIGINS'] ?? '').split(',').map((o) => o.trim());
    if (uiPort !== undefined && !origins.includes(`http://localhost:${uiPort}`)) problems.push(`codec-server: CODEC_SERVER_CORS_ORIGINS does not allow the Web UI (http://localhost:${uiPort})`);
    const codecPort = Number(codecEnv['CODEC_SERVER_PORT'] ?? 8888);
    if (!ports(codec).some((p) => p.container === codecPort)) problems.push(`codec-server: port ${codecPort} is not published`);
  }

  const worker = all['worker'];
  if (worker) {
    const build = worker['build'];
    const context = typeof build === 'string' ? build : isRecord(build) && typeof build['context'] === 'string' ? build['context'] : null;
    const dockerfile = isRecord(build) && typeof build['dockerfile'] === 'string' ? build['dockerfile'] : 'Dockerfile';
    if (context === null) problems.push('worker: not built from the repository (no build context)');
    else if (!options.fileExists(join(context, dockerfile))) problems.push(`worker: build file ${join(context, dockerfile)} does not exist`);

    const envFile = worker['env_file'];
    const envFiles = Array.isArray(envFile) ? envFile : envFile === undefined ? [] : [envFile];
    if (envFiles.some((f) => f === '.env' || (isRecord(f) && f['path'] === '.env' && f['required'] !== false))) {
      problems.push('worker: env_file .env must be optional (required: false)');
    }

    const env = environment(worker);
    const databaseUrl = env['DATABASE_URL'] ?? '';
    // Substitutions may contain ':' and '@'; parse the URL with each one masked by a placeholder.
    const substitutions: string[] = [];
    const masked = databaseUrl.replace(/\$\{[^}]*\}/g, (m) => `\u0000${substitutions.push(m) - 1}\u0000`);
    const unmask = (part: string): string => part.replace(/\u0000(\d+)\u0000/g, (_, i: string) => substitutions[Number(i)] ?? '');
    const db = /^postgresql:\/\/([^:@/]+):([^@/]+)@([^:/]+)(?::\d+)?\/.+$/.exec(masked);
    if (!db) problems.push(`worker: DATABASE_URL "${databaseUrl}" is not postgresql://user:password@host/db`);
    else {
      const host = unmask(db[3] ?? '');
      if (!isService(host)) problems.push(`worker: DATABASE_URL host "${host}" is not a service of this file`);
      if (!isSecretSubstitution(unmask(db[2] ?? ''))) problems.push('worker: the password in DATABASE_URL must be a ${VAR} substitution');
    }
    const [temporalHost, temporalPort] = (env['TEMPORAL_ADDRESS'] ?? '').split(':');
    if (!temporalHost || !/^temporalio\//.test(imageOf(temporalHost)) || temporalPort !== '7233') {
      problems.push(`worker: TEMPORAL_ADDRESS "${env['TEMPORAL_ADDRESS'] ?? ''}" does not point at the Temporal service on 7233`);
    }
    for (const key of ['TEMPORAL_NAMESPACE', 'CONFIG_PATH', 'LOG_LEVEL']) {
      if (!env[key]) problems.push(`worker: ${key} is not set`);
    }
    // Production payload encryption: the image has NODE_ENV=production, where the worker refuses
    // to start without keys; a required substitution fails at `docker compose up` instead, clearly.
    const payloadKeys = env['PAYLOAD_KEYS'] ?? env['PAYLOAD_KEYS_FILE'] ?? '';
    if (!/^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}$/.test(payloadKeys)) problems.push('worker: PAYLOAD_KEYS must be a required ${PAYLOAD_KEYS:?...} substitution (payload encryption keys)');
    if (env['PAYLOAD_ENCRYPTION'] === 'off') problems.push('worker: PAYLOAD_ENCRYPTION=off stores prompts in plain text in Temporal');
    // Unset, each worker process runs the emulator itself (on its own loopback). Set, it is reached
    // either by service name (were it to listen on the network) or on 127.0.0.1 from inside the
    // emulator's network namespace (the emulator listens on loopback only).
    const emulatorUrl = env['EMULATOR_URL'] ?? '';
    const emulatorHost = /^http:\/\/([^:/]+)/.exec(emulatorUrl)?.[1] ?? '';
    const sharedWith = /^service:(.+)$/.exec(typeof worker['network_mode'] === 'string' ? worker['network_mode'] : '')?.[1];
    if (emulatorHost === '127.0.0.1' || emulatorHost === 'localhost') {
      const sidecar = sharedWith === undefined ? undefined : all[sharedWith];
      if (!sidecar || !commandText(sidecar).includes('npm run emulator')) {
        problems.push(`worker: EMULATOR_URL "${emulatorUrl}" is loopback, but the worker does not share the emulator's network (network_mode: service:emulator)`);
      }
    } else if (emulatorUrl !== '' && !isService(emulatorHost)) {
      problems.push(`worker: EMULATOR_URL "${emulatorUrl}" does not point at a service of this file`);
    }
    // Scale-out: N replicas of this one definition (deploy.replicas, `--scale worker=N`), each able
    // to run beside the others: no fixed name, no fixed host port, no shared network namespace
    // (where their metrics ports would clash).
    const deploy = isRecord(worker['deploy']) ? worker['deploy'] : {};
    const replicas = deploy['replicas'];
    if (replicas === undefined) problems.push('worker: no deploy.replicas (how many worker processes run)');
    else if (!(typeof replicas === 'number' && Number.isInteger(replicas) && replicas >= 1) && !(typeof replicas === 'string' && /^\$\{[A-Za-z_][A-Za-z0-9_]*:-[1-9]\d*\}$/.test(replicas))) {
      problems.push(`worker: deploy.replicas ${JSON.stringify(replicas)} is neither a positive integer nor a \${VAR:-n} substitution with a default`);
    }
    if (worker['container_name'] !== undefined) problems.push('worker: container_name allows one container, not replicas');
    if (ports(worker).some((p) => p.host !== null)) problems.push('worker: a fixed host port cannot be published by more than one replica');
    if (typeof worker['network_mode'] === 'string' && worker['network_mode'].startsWith('service:')) {
      problems.push(`worker: network_mode ${worker['network_mode']} puts every replica in one network namespace, where their metrics ports clash`);
    }
    for (const key of options.providerKeyVars) {
      const value = env[key];
      if (value === undefined) problems.push(`worker: provider key ${key} is not passed through`);
      else if (!isSecretSubstitution(value)) problems.push(`worker: ${key} must be a \${VAR} substitution, not a literal`);
    }
  }
  return problems;
}

function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: string[] = [];
  let lastFrom = -1;
  lines.forEach((line, i) => {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!from) return;
    const image = from[1] ?? '';
    if (!stages.includes(image) && !isPinnedImage(image)) problems.push(`base image "${image}" is not pinned to an exact version`);
    if (!stages.includes(image) && !/^node:20\.\d+/.test(image)) problems.push(`base image "${image}" is not Node 20`);
    if (from[2]) stages.push(from[2]);
    lastFrom = i;
  });
  if (lastFrom < 0) problems.push('no FROM');
  const finalStage = lines.slice(lastFrom + 1);
  const users = finalStage.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1] ?? '');
  const user = users[users.length - 1];
  if (user === undefined) problems.push('the final stage runs as root (no USER)');
  else if (/^(root|0)(:|$)/.test(user)) problems.push(`the final stage runs as root (USER ${user})`);
  if (!lines.some((l) => /^RUN\s.*\bnpm ci\b/.test(l))) problems.push('dependencies are not installed with npm ci');
  if (!lines.some((l) => /^RUN\s.*\bnpm run db:generate\b/.test(l))) problems.push('the Prisma client is not generated (npm run db:generate)');
  if (!lines.some((l) => /^ENV\s.*\bONNXRUNTIME_NODE_INSTALL=skip\b/.test(l))) problems.push('ONNXRUNTIME_NODE_INSTALL=skip is not set');
  if (!lines.some((l) => /^RUN\s.*\bnpm run build\b/.test(l))) problems.push('dist/ is not built (npm run build): the compiled worker would be missing');
  const cmd = finalStage.filter((l) => /^CMD\s/i.test(l)).pop();
  if (cmd?.replace(/\s+/g, '') !== 'CMD["node","dist/worker.js"]') problems.push(`the image does not start the compiled worker (CMD ["node", "dist/worker.js"]), found: ${cmd ?? 'none'}`);
  return problems;
}

/** Variables referenced as ${VAR} in the compose file, plus those the worker reads, all need a line in .env.example. */
function checkEnvExample(example: string, needed: string[]): string[] {
  const documented = new Set([...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]));
  const problems = needed.filter((name) => !documented.has(name)).map((name) => `.env.example does not list ${name}`);
  for (const m of example.matchAll(/^([A-Z][A-Z0-9_]*)=(.+)$/gm)) {
    if (SECRET_NAME.test(m[1] ?? '')) problems.push(`.env.example sets a value for ${m[1] ?? ''}: leave secrets empty`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Inputs from the repository
// ---------------------------------------------------------------------------------------------

const composeText = read('docker-compose.yml');
// Compose resolves `<<:` merge keys (the x-app anchor); so must the parser.
const compose: unknown = parse(composeText, { merge: true });
const dockerfileText = read('Dockerfile');
const envExample = read('.env.example');

function providerKeyVars(): string[] {
  const config: unknown = parse(read('config.yaml'));
  const models = isRecord(config) && isRecord(config['models']) ? config['models'] : {};
  return Object.values(models)
    .map((m) => (isRecord(m) ? m['api_key_env'] : undefined))
    .filter((v): v is string => typeof v === 'string');
}

/** The variables src/config/env.ts validates (its EnvSchema keys). */
function workerEnvVars(): string[] {
  const source = read('src/config/env.ts');
  const schema = /const EnvSchema = z\.object\(\{([\s\S]*?)\n\}\)/.exec(source)?.[1] ?? '';
  return [...schema.matchAll(/^\s+([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1] ?? '');
}

function npmScripts(): string[] {
  const pkg: unknown = JSON.parse(read('package.json'));
  return isRecord(pkg) && isRecord(pkg['scripts']) ? Object.keys(pkg['scripts']) : [];
}

/** Variables compose substitutes anywhere in the file's values (`$${X}` is an escaped literal, not one). */
function substitutedVariables(value: unknown): string[] {
  if (typeof value === 'string') return [...value.matchAll(/(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? '');
  if (Array.isArray(value)) return value.flatMap(substitutedVariables);
  if (isRecord(value)) return Object.values(value).flatMap(substitutedVariables);
  return [];
}

const options: ComposeCheckOptions = {
  providerKeyVars: providerKeyVars(),
  fileExists: (p) => existsSync(join(ROOT, p)),
  npmScripts: npmScripts(),
};

/** A deep copy of the real compose file with one service changed. */
function mutate(change: (services: Record<string, Doc>) => void): unknown {
  const copy: unknown = structuredClone(compose);
  if (!isRecord(copy) || !isRecord(copy['services'])) throw new Error('docker-compose.yml has no services');
  change(copy['services'] as Record<string, Doc>);
  return copy;
}

function env(service: Doc): Doc {
  const e = service['environment'];
  if (!isRecord(e)) throw new Error('the test expects environment: as a map');
  return e;
}

function svc(all: Record<string, Doc>, name: string): Doc {
  const s = all[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('reads the inputs it checks against', () => {
    expect(options.providerKeyVars).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GOOGLE_API_KEY']));
    expect(workerEnvVars()).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'CONFIG_PATH', 'LOG_LEVEL']));
    expect(Object.keys(services(compose)).length).toBeGreaterThanOrEqual(REQUIRED_SERVICES.length);
  });

  it('has no problems', () => {
    expect(checkCompose(compose, options)).toEqual([]);
  });

  it('reports a missing service', () => {
    const doc = mutate((s) => delete s['migrate']);
    expect(checkCompose(doc, options)).toEqual(expect.arrayContaining(['service "migrate" is missing', 'service "worker" depends on unknown service "migrate"']));
  });

  it.each([
    ['postgresql', 'postgres'],
    ['postgresql', 'postgres:16'],
    ['temporal', 'temporalio/auto-setup:latest'],
    ['temporal', 'temporalio/auto-setup'],
    ['temporal-ui', 'temporalio/ui:${UI_VERSION}'],
  ])('reports an unpinned image (%s: %s)', (name, image) => {
    const doc = mutate((s) => {
      svc(s, name)['image'] = image;
    });
    expect(checkCompose(doc, options)).toContain(`service "${name}": image "${image}" is not pinned to an exact version`);
  });

  it('accepts a digest pin', () => {
    expect(isPinnedImage(`postgres@sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(isPinnedImage('registry.example:5000/team/app:1.2.3')).toBe(true);
    expect(isPinnedImage('registry.example:5000/team/app')).toBe(false);
  });

  it('reports unpublished Temporal and UI ports', () => {
    const doc = mutate((s) => {
      delete svc(s, 'temporal')['ports'];
      svc(s, 'temporal-ui')['ports'] = ['127.0.0.1:8081:8080'];
    });
    expect(checkCompose(doc, options)).toEqual(expect.arrayContaining(['temporal: port 7233 is not published', 'temporal-ui: port 8080 is not published']));
  });

  it('reports a worker build file that does not exist', () => {
    const doc = mutate((s) => {
      svc(s, 'worker')['build'] = { context: '.', dockerfile: 'Dockerfile.missing' };
    });
    expect(checkCompose(doc, options)).toContain('worker: build file Dockerfile.missing does not exist');
  });

  it('reports each worker variable that is missing or points elsewhere', () => {
    const doc = mutate((s) => {
      const e = env(svc(s, 'worker'));
      e['DATABASE_URL'] = 'file:./.data/orchestrator.db';
      e['TEMPORAL_ADDRESS'] = '127.0.0.1:7233';
      delete e['TEMPORAL_NAMESPACE'];
      delete e['CONFIG_PATH'];
      e['EMULATOR_URL'] = 'http://emulator.internal:8390';
      delete e['GOOGLE_API_KEY'];
      e['PAYLOAD_KEYS'] = '${PAYLOAD_KEYS:-}';
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining([
        'worker: DATABASE_URL "file:./.data/orchestrator.db" is not postgresql://user:password@host/db',
        'worker: TEMPORAL_ADDRESS "127.0.0.1:7233" does not point at the Temporal service on 7233',
        'worker: TEMPORAL_NAMESPACE is not set',
        'worker: CONFIG_PATH is not set',
        'worker: EMULATOR_URL "http://emulator.internal:8390" does not point at a service of this file',
        'worker: provider key GOOGLE_API_KEY is not passed through',
        'worker: PAYLOAD_KEYS must be a required ${PAYLOAD_KEYS:?...} substitution (payload encryption keys)',
      ]),
    );
  });

  it('reports a codec server with other keys than the worker, a UI origin it refuses, or none at all', () => {
    const doc = mutate((s) => {
      const e = env(svc(s, 'codec-server'));
      e['PAYLOAD_KEYS'] = '${OTHER_KEYS:?set it}';
      e['CODEC_SERVER_CORS_ORIGINS'] = 'http://example.com';
      svc(s, 'codec-server')['ports'] = [];
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining([
        "codec-server: PAYLOAD_KEYS is not the worker's PAYLOAD_KEYS",
        'codec-server: CODEC_SERVER_CORS_ORIGINS does not allow the Web UI (http://localhost:8080)',
        'codec-server: port 8888 is not published',
      ]),
    );
    expect(checkCompose(mutate((s) => delete s['codec-server']), options)).toContain('codec-server: missing (nothing could decode the encrypted payloads)');
  });

  it('reports a loopback EMULATOR_URL when the worker is not in the emulator\'s network namespace', () => {
    const doc = mutate((s) => {
      delete svc(s, 'worker')['network_mode'];
      env(svc(s, 'worker'))['EMULATOR_URL'] = 'http://127.0.0.1:8390';
    });
    expect(checkCompose(doc, options)).toContain(
      'worker: EMULATOR_URL "http://127.0.0.1:8390" is loopback, but the worker does not share the emulator\'s network (network_mode: service:emulator)',
    );
  });

  it('runs the worker as replicas, and reports what would stop replicas running side by side', () => {
    expect(svc(services(compose), 'worker')['deploy']).toEqual({ replicas: '${WORKER_REPLICAS:-1}' });
    const doc = mutate((s) => {
      const w = svc(s, 'worker');
      w['deploy'] = { replicas: 0 };
      w['container_name'] = 'worker';
      w['ports'] = ['127.0.0.1:9464:9464'];
      w['network_mode'] = 'service:codec-server';
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining([
        'worker: deploy.replicas 0 is neither a positive integer nor a ${VAR:-n} substitution with a default',
        'worker: container_name allows one container, not replicas',
        'worker: a fixed host port cannot be published by more than one replica',
        'worker: network_mode service:codec-server puts every replica in one network namespace, where their metrics ports clash',
      ]),
    );
    expect(checkCompose(mutate((s) => delete svc(s, 'worker')['deploy']), options)).toContain('worker: no deploy.replicas (how many worker processes run)');
    expect(checkCompose(mutate((s) => void (svc(s, 'worker')['deploy'] = { replicas: '${WORKER_REPLICAS}' })), options)).toContain(
      'worker: deploy.replicas "${WORKER_REPLICAS}" is neither a positive integer nor a ${VAR:-n} substitution with a default',
    );
    expect(checkCompose(mutate((s) => void (svc(s, 'worker')['deploy'] = { replicas: 3 })), options)).toEqual([]);
  });

  it('reports a DATABASE_URL on a host that is not a service, or with a literal password', () => {
    const doc = mutate((s) => {
      env(svc(s, 'worker'))['DATABASE_URL'] = 'postgresql://orchestrator:hunter2@db.internal:5432/orchestrator';
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining(['worker: DATABASE_URL host "db.internal" is not a service of this file', 'worker: the password in DATABASE_URL must be a ${VAR} substitution']),
    );
  });

  it('reports literal secrets, including a substitution with an inline default', () => {
    const doc = mutate((s) => {
      env(svc(s, 'worker'))['OPENAI_API_KEY'] = 'sk-test-not-a-real-key';
      env(svc(s, 'worker'))['ANTHROPIC_API_KEY'] = '${ANTHROPIC_API_KEY:-sk-ant-default}';
      env(svc(s, 'postgresql'))['POSTGRES_PASSWORD'] = 'postgres';
    });
    const problems = checkCompose(doc, options);
    expect(problems).toEqual(
      expect.arrayContaining([
        'worker: OPENAI_API_KEY must be a ${VAR} substitution, not a literal',
        'worker: ANTHROPIC_API_KEY must be a ${VAR} substitution, not a literal',
        'service "postgresql": POSTGRES_PASSWORD must be a ${VAR} substitution without an inline value, not "postgres"',
      ]),
    );
  });

  it('reports a required .env', () => {
    const doc = mutate((s) => {
      svc(s, 'worker')['env_file'] = ['.env'];
    });
    expect(checkCompose(doc, options)).toContain('worker: env_file .env must be optional (required: false)');
  });

  it('reports a broken start order', () => {
    const doc = mutate((s) => {
      svc(s, 'worker')['depends_on'] = { migrate: { condition: 'service_started' } };
      svc(s, 'migrate')['depends_on'] = ['postgresql'];
      delete svc(s, 'temporal')['depends_on'];
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining([
        '"worker" waits for "migrate" with service_started, expected service_completed_successfully',
        '"worker" does not depend on "temporal"',
        '"migrate" waits for "postgresql" with service_started, expected service_healthy',
        '"temporal" does not depend on "postgresql"',
      ]),
    );
  });

  it('reports waiting for health on a service without a healthcheck', () => {
    const doc = mutate((s) => {
      delete svc(s, 'postgresql')['healthcheck'];
    });
    expect(checkCompose(doc, options)).toContain('service "temporal" waits for "postgresql" to be healthy, but "postgresql" has no healthcheck');
  });

  it('reports a Temporal server not persisted in the postgresql service', () => {
    const doc = mutate((s) => {
      env(svc(s, 'temporal'))['DB'] = 'sqlite';
      env(svc(s, 'temporal'))['POSTGRES_SEEDS'] = 'localhost';
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining(['temporal: DB is "sqlite", expected postgres12', 'temporal: POSTGRES_SEEDS is "localhost", expected the postgresql service']),
    );
  });

  it('reports a migration that does not run the migrate script, or restarts', () => {
    const doc = mutate((s) => {
      svc(s, 'migrate')['command'] = ['npm', 'run', 'worker'];
      svc(s, 'migrate')['restart'] = 'always';
    });
    expect(checkCompose(doc, options)).toEqual(
      expect.arrayContaining(['migrate: command does not run "npm run db:migrate"', 'migrate: a one-shot job must not restart']),
    );
    expect(checkCompose(compose, { ...options, npmScripts: [] })).toContain('migrate: package.json has no "db:migrate" script');
  });

  it('gives the Temporal server a dynamic config file it actually mounts', () => {
    const temporal = svc(services(compose), 'temporal');
    const path = environment(temporal)['DYNAMIC_CONFIG_FILE_PATH'] ?? '';
    const mounts = Array.isArray(temporal['configs']) ? temporal['configs'].filter(isRecord) : [];
    const mount = mounts.find((c) => c['target'] === `/etc/temporal/${path}`);
    expect(mount, `no config mounted at /etc/temporal/${path}`).toBeDefined();
    const configs = isRecord(compose) && isRecord(compose['configs']) ? compose['configs'] : {};
    const source = configs[String(mount?.['source'])];
    const content: unknown = isRecord(source) ? parse(String(source['content'])) : undefined;
    expect(isRecord(content) && Object.keys(content).length > 0).toBe(true);
  });
});

describe('Dockerfile', () => {
  it('exists where the compose file builds from, and has no problems', () => {
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(checkDockerfile(dockerfileText)).toEqual([]);
  });

  it('reports an unpinned base image', () => {
    const text = dockerfileText.replace(/FROM node:\S+/g, 'FROM node:lts');
    expect(checkDockerfile(text)).toContain('base image "node:lts" is not pinned to an exact version');
  });

  it('reports a final stage that runs as root', () => {
    expect(checkDockerfile(dockerfileText.replace(/^USER node$/m, 'USER root'))).toContain('the final stage runs as root (USER root)');
    expect(checkDockerfile(dockerfileText.replace(/^USER node$/m, ''))).toContain('the final stage runs as root (no USER)');
  });

  it('reports missing install, generate and start steps', () => {
    const text = dockerfileText
      .replace(/npm ci/g, 'npm install')
      .replace(/npm run db:generate/g, 'true')
      .replace(/npm run build/g, 'true')
      .replace(/ONNXRUNTIME_NODE_INSTALL=skip/g, 'ONNXRUNTIME_NODE_INSTALL=yes')
      .replace(/^CMD .*$/m, 'CMD ["node", "server.js"]');
    expect(checkDockerfile(text)).toEqual(
      expect.arrayContaining([
        'dependencies are not installed with npm ci',
        'the Prisma client is not generated (npm run db:generate)',
        'ONNXRUNTIME_NODE_INSTALL=skip is not set',
        'dist/ is not built (npm run build): the compiled worker would be missing',
        'the image does not start the compiled worker (CMD ["node", "dist/worker.js"]), found: CMD ["node", "server.js"]',
      ]),
    );
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = read('.dockerignore')
      .split(/\r?\n/)
      .map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', '.data', '.cache', '.git', 'dist', '.env']));
  });
});

describe('.env.example', () => {
  const substituted = substitutedVariables(compose);
  const needed = [...new Set([...workerEnvVars(), ...options.providerKeyVars, ...substituted])];

  it('lists every variable the worker and the compose file read, with secrets left empty', () => {
    expect(needed.length).toBeGreaterThan(10);
    expect(checkEnvExample(envExample, needed)).toEqual([]);
  });

  it('reports a missing variable and a filled-in secret', () => {
    const text = envExample.replace(/^TEMPORAL_NAMESPACE=.*$/m, '').replace(/^OPENAI_API_KEY=.*$/m, 'OPENAI_API_KEY=sk-live');
    expect(checkEnvExample(text, needed)).toEqual(['.env.example does not list TEMPORAL_NAMESPACE', '.env.example sets a value for OPENAI_API_KEY: leave secrets empty']);
  });

  it('documents each variable with a comment', () => {
    const lines = envExample.split(/\r?\n/);
    const undocumented = lines.filter((line, i) => {
      if (!/^[A-Z][A-Z0-9_]*=/.test(line)) return false;
      // A comment directly above, or above the run of variables this one belongs to.
      let j = i - 1;
      while (j >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[j] ?? '')) j--;
      return !(lines[j] ?? '').startsWith('#');
    });
    expect(undocumented).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Metrics: Prometheus scraping the worker, Grafana with the dashboard (issue 13)
// ---------------------------------------------------------------------------------------------

interface MetricsFiles {
  /** deploy/prometheus/prometheus.yml, parsed. */
  prometheus: unknown;
  /** Grafana provisioning: the data source and dashboard provider files, parsed. */
  datasources: unknown;
  dashboardProviders: unknown;
  /** Every dashboard JSON under deploy/grafana/dashboards, parsed. */
  dashboards: unknown[];
  /** Series names the code registers (ours and the Temporal SDK's). */
  knownSeries: Set<string>;
}

/** Mounts of a service as { source, target } (short syntax "src:target[:ro]" or long syntax). */
function mounts(service: Doc): { source: string; target: string }[] {
  const list = service['volumes'];
  if (!Array.isArray(list)) return [];
  return list.flatMap((v): { source: string; target: string }[] => {
    if (typeof v === 'string') {
      const [source, target] = v.split(':');
      return source && target ? [{ source, target }] : [];
    }
    return isRecord(v) && typeof v['source'] === 'string' && typeof v['target'] === 'string' ? [{ source: v['source'], target: v['target'] }] : [];
  });
}

/** Every PromQL expression of a dashboard (panel targets, rows' panels, annotations). */
function dashboardExprs(dashboard: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isRecord(node)) {
      if (typeof node['expr'] === 'string') out.push(node['expr']);
      Object.values(node).forEach(walk);
    }
  };
  walk(dashboard);
  return out;
}

/** Metric names in a PromQL expression: identifiers not followed by '(' and not label names or keywords. */
function metricNames(expr: string): string[] {
  // Label matchers, strings, range selectors and Grafana variables ($__rate_interval, $task_type) are not metric names.
  const withoutLabels = expr
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/"[^"]*"/g, '""')
    .replace(/\[[^\]]*\]/g, '[]')
    .replace(/\$\w+/g, '');
  const keywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset']);
  const names: string[] = [];
  for (const m of withoutLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?/g)) {
    const name = m[1] ?? '';
    if (m[2] || keywords.has(name)) continue;
    // Inside by (...) / without (...): label names.
    const before = withoutLabels.slice(0, m.index);
    if (/\b(by|without|on|ignoring)\s*\([^)]*$/.test(before)) continue;
    if (/^\d/.test(name) || /^[a-z]$/.test(name)) continue;
    if (name.includes('_')) names.push(name);
  }
  return names;
}

function checkMetricsStack(doc: unknown, files: MetricsFiles): string[] {
  const problems: string[] = [];
  const all = services(doc);
  const worker = all['worker'];
  const prometheus = all['prometheus'];
  const grafana = all['grafana'];
  if (!prometheus) problems.push('service "prometheus" is missing');
  if (!grafana) problems.push('service "grafana" is missing');
  if (!worker || !prometheus || !grafana) return problems;

  // The worker listens where Prometheus can reach it.
  const env = environment(worker);
  if (env['METRICS_HOST'] !== '0.0.0.0') problems.push(`worker: METRICS_HOST is "${env['METRICS_HOST'] ?? '127.0.0.1 (default)'}", Prometheus in another container cannot reach loopback`);
  const metricsPort = env['METRICS_PORT'] ?? '9464';
  const sdkPort = env['METRICS_SDK_PORT'] ?? '9465';
  if (sdkPort === 'off') problems.push('worker: METRICS_SDK_PORT is off (the dashboard shows Temporal SDK metrics)');
  // Its address: the service whose network namespace it shares, else its own name.
  const host = /^service:(.+)$/.exec(typeof worker['network_mode'] === 'string' ? worker['network_mode'] : '')?.[1] ?? 'worker';

  const promMount = mounts(prometheus).find((m) => m.target === '/etc/prometheus/prometheus.yml');
  if (!promMount) problems.push('prometheus: no config mounted at /etc/prometheus/prometheus.yml');
  else if (promMount.source.replace(/^\.\//, '') !== 'deploy/prometheus/prometheus.yml') problems.push(`prometheus: mounts ${promMount.source}, not deploy/prometheus/prometheus.yml`);
  if (!dependsOn(prometheus)['worker']) problems.push('"prometheus" does not depend on "worker"');
  const jobs = isRecord(files.prometheus) && Array.isArray(files.prometheus['scrape_configs']) ? files.prometheus['scrape_configs'].filter(isRecord) : [];
  const staticTargets = jobs.flatMap((j) => (Array.isArray(j['static_configs']) ? j['static_configs'].filter(isRecord) : [])).flatMap((c) => (Array.isArray(c['targets']) ? c['targets'].map(String) : []));
  // DNS discovery (a service name resolves to every replica's address): name:port per entry.
  const dnsTargets = jobs
    .flatMap((j) => (Array.isArray(j['dns_sd_configs']) ? j['dns_sd_configs'].filter(isRecord) : []))
    .flatMap((c) => (Array.isArray(c['names']) && (c['type'] === undefined || c['type'] === 'A') ? c['names'].map((n) => `${String(n)}:${String(c['port'])}`) : []));
  const targets = [...staticTargets, ...dnsTargets];
  if (!targets.includes(`${host}:${metricsPort}`)) problems.push(`prometheus.yml: no scrape target ${host}:${metricsPort} (the worker's METRICS_PORT)`);
  if (sdkPort !== 'off' && !targets.includes(`${host}:${sdkPort}`)) problems.push(`prometheus.yml: no scrape target ${host}:${sdkPort} (the worker's METRICS_SDK_PORT)`);
  // A static target reaches one replica; DNS discovery reaches all of them.
  if (staticTargets.includes(`${host}:${metricsPort}`) && !dnsTargets.includes(`${host}:${metricsPort}`)) {
    problems.push(`prometheus.yml: ${host}:${metricsPort} is a static target, which scrapes one replica of the worker (use dns_sd_configs)`);
  }

  // Grafana: provisioning mounted, the data source is this Prometheus, the dashboards are where the provider looks.
  const gMounts = mounts(grafana);
  if (!gMounts.some((m) => m.target === '/etc/grafana/provisioning' && m.source.replace(/^\.\//, '') === 'deploy/grafana/provisioning')) problems.push('grafana: deploy/grafana/provisioning is not mounted at /etc/grafana/provisioning');
  const dashboardsMount = gMounts.find((m) => m.source.replace(/^\.\//, '') === 'deploy/grafana/dashboards');
  const providerPaths = (isRecord(files.dashboardProviders) && Array.isArray(files.dashboardProviders['providers']) ? files.dashboardProviders['providers'].filter(isRecord) : []).map((p) => (isRecord(p['options']) ? String(p['options']['path']) : ''));
  if (!dashboardsMount || !providerPaths.includes(dashboardsMount.target)) problems.push('grafana: deploy/grafana/dashboards is not mounted where the dashboard provider reads');
  const datasources = isRecord(files.datasources) && Array.isArray(files.datasources['datasources']) ? files.datasources['datasources'].filter(isRecord) : [];
  const promPort = ports(prometheus).find((p) => p.host !== null)?.container ?? 9090;
  const source = datasources.find((d) => d['type'] === 'prometheus');
  if (!source || source['url'] !== `http://prometheus:${promPort}`) problems.push(`grafana: no prometheus data source at http://prometheus:${promPort}`);
  if (!dependsOn(grafana)['prometheus']) problems.push('"grafana" does not depend on "prometheus"');

  // The dashboards query only metric names the code registers, through the provisioned data source.
  if (files.dashboards.length === 0) problems.push('deploy/grafana/dashboards has no dashboard');
  for (const dashboard of files.dashboards) {
    const exprs = dashboardExprs(dashboard);
    if (exprs.length === 0) problems.push('a dashboard has no queries');
    for (const expr of exprs) {
      const names = metricNames(expr);
      if (names.length === 0) problems.push(`dashboard query uses no metric: ${expr}`);
      for (const name of names) if (!files.knownSeries.has(name)) problems.push(`dashboard query uses ${name}, which no code registers`);
    }
    const uids = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (isRecord(node)) {
        if (isRecord(node['datasource']) && typeof node['datasource']['uid'] === 'string') uids.add(node['datasource']['uid']);
        Object.values(node).forEach(walk);
      }
    };
    walk(dashboard);
    for (const uid of uids) if (!datasources.some((d) => d['uid'] === uid)) problems.push(`dashboard uses data source uid "${uid}", which is not provisioned`);
  }
  return problems;
}

describe('metrics stack (Prometheus and Grafana)', () => {
  const dashboardDir = join(ROOT, 'deploy/grafana/dashboards');
  const files: MetricsFiles = {
    prometheus: parse(read('deploy/prometheus/prometheus.yml')),
    datasources: parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')),
    dashboardProviders: parse(read('deploy/grafana/provisioning/dashboards/dashboards.yml')),
    dashboards: readdirSync(dashboardDir)
      .filter((f) => f.endsWith('.json'))
      .map((f): unknown => JSON.parse(readFileSync(join(dashboardDir, f), 'utf8'))),
    knownSeries: new Set([...registeredSeriesNames(), ...TEMPORAL_SDK_SERIES.flatMap((n) => [n, `${n}_bucket`, `${n}_sum`, `${n}_count`])]),
  };

  it('has no problems', () => {
    expect(checkMetricsStack(compose, files)).toEqual([]);
  });

  it('the dashboard shows the issue\'s metrics: latency, provider calls, tokens, cost, consensus, cache, circuits, refusals, policy version, Temporal SDK', () => {
    const used = new Set(files.dashboards.flatMap(dashboardExprs).flatMap(metricNames));
    for (const name of [
      'orchestrator_requests_total',
      'orchestrator_request_duration_seconds_bucket',
      'orchestrator_provider_call_duration_seconds_bucket',
      'orchestrator_provider_calls_total',
      'orchestrator_provider_retries_total',
      'orchestrator_failovers_total',
      'orchestrator_hedged_calls_total',
      'orchestrator_early_stops_total',
      'orchestrator_escalations_total',
      'orchestrator_tokens_total',
      'orchestrator_cost_usd_total',
      'orchestrator_consensus_confidence_bucket',
      'orchestrator_consensus_agreement_bucket',
      'orchestrator_cache_lookups_total',
      'orchestrator_circuit_state',
      'orchestrator_refusals_total',
      'orchestrator_routing_policy_version',
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
      'temporal_worker_task_slots_available',
    ]) {
      expect(used.has(name), name).toBe(true);
    }
  });

  it('reports a worker Prometheus cannot reach, a scrape target on another port, and missing services', () => {
    const loopback = mutate((s) => {
      delete env(svc(s, 'worker'))['METRICS_HOST'];
      env(svc(s, 'worker'))['METRICS_PORT'] = '9999';
    });
    expect(checkMetricsStack(loopback, files)).toEqual(
      expect.arrayContaining(['worker: METRICS_HOST is "127.0.0.1 (default)", Prometheus in another container cannot reach loopback', "prometheus.yml: no scrape target worker:9999 (the worker's METRICS_PORT)"]),
    );
    const staticOnly = { ...files, prometheus: { scrape_configs: [{ job_name: 'orchestrator', static_configs: [{ targets: ['worker:9464', 'worker:9465'] }] }] } };
    expect(checkMetricsStack(compose, staticOnly)).toEqual(['prometheus.yml: worker:9464 is a static target, which scrapes one replica of the worker (use dns_sd_configs)']);
    const missing = mutate((s) => {
      delete s['grafana'];
      delete s['prometheus'];
    });
    expect(checkMetricsStack(missing, files)).toEqual(['service "prometheus" is missing', 'service "grafana" is missing']);
  });

  it('reports a dashboard query on a metric no code registers, and an unprovisioned data source', () => {
    const dashboard = { panels: [{ datasource: { type: 'prometheus', uid: 'elsewhere' }, targets: [{ expr: 'sum by (provider) (rate(orchestrator_made_up_total{status="failed"}[5m]))' }] }] };
    expect(checkMetricsStack(compose, { ...files, dashboards: [dashboard] })).toEqual([
      'dashboard query uses orchestrator_made_up_total, which no code registers',
      'dashboard uses data source uid "elsewhere", which is not provisioned',
    ]);
  });

  it('reports a Grafana without the provisioned data source or dashboards', () => {
    const noMounts = mutate((s) => {
      svc(s, 'grafana')['volumes'] = [];
    });
    expect(checkMetricsStack(noMounts, { ...files, datasources: { datasources: [] } })).toEqual(
      expect.arrayContaining([
        'grafana: deploy/grafana/provisioning is not mounted at /etc/grafana/provisioning',
        'grafana: deploy/grafana/dashboards is not mounted where the dashboard provider reads',
        'grafana: no prometheus data source at http://prometheus:9090',
      ]),
    );
  });

  it('reads metric names out of PromQL, not label names or functions', () => {
    expect(metricNames('histogram_quantile(0.95, sum by (le, provider) (rate(orchestrator_provider_call_duration_seconds_bucket{status="succeeded"}[5m])))')).toEqual(['orchestrator_provider_call_duration_seconds_bucket']);
    expect(metricNames('sum(rate(a_total[5m])) / sum(rate(b_total{x="y_z"}[5m]))')).toEqual(['a_total', 'b_total']);
  });
});
