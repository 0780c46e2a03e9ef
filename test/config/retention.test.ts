/**
 * `retention:` in config.yaml: defaults, the repository's values, and bad values refused with a
 * ConfigError naming `retention.<key>` (every key is read by the retention code).
 */
import { describe, expect, it } from 'vitest';
import { repoConfig, testConfig } from '../helpers/config';
import { expectConfigError } from '../helpers/expect-config-error';

describe('retention config', () => {
  it('defaults: on, 90 days, embeddings 30 days, every 24 hours, batches of 500', () => {
    expect(testConfig().retention).toEqual({ enable: true, days: 90, embedding_days: 30, interval_hours: 24, batch_size: 500 });
  });

  it('the repository config sets every key', () => {
    expect(repoConfig().retention).toEqual({ enable: true, days: 90, embedding_days: 30, interval_hours: 24, batch_size: 500 });
  });

  it.each([
    ['days', 0],
    ['days', 1.5],
    ['embedding_days', -1],
    ['interval_hours', 0],
    ['batch_size', 0],
    ['batch_size', 10_001],
    ['enable', 'yes'],
  ])('refuses retention.%s = %j, naming the key', (key, value) => {
    const err = expectConfigError(() => testConfig({ retention: { [key]: value } }));
    expect(err.issues.map((i) => i.path)).toContain(`retention.${key}`);
    expect(err.message).toContain(`retention.${key}`);
  });

  it('refuses an unknown key under retention', () => {
    const err = expectConfigError(() => testConfig({ retention: { keep_forever: true } as never }));
    expect(err.message).toMatch(/retention/);
    expect(err.message).toMatch(/keep_forever/);
  });
});
