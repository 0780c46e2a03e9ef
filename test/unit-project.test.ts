/**
 * The `unit` project (vitest.config.ts, `npm run test:unit`) runs with no service: the project
 * blanks the service addresses, so a test in it that needs one fails (test/helpers/services.ts).
 * Its list must stay true to the files: every entry names at least one test file.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UNIT_TESTS } from '../vitest.config';
import { requiredService } from './helpers/services';

const ROOT = resolve(__dirname, '..');

function testFiles(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return testFiles(full);
    return name.endsWith('.test.ts') ? [relative(ROOT, full)] : [];
  });
}

/** The list's two forms: an exact file, or `<folder>/**\/*.test.ts`. */
function matches(entry: string, file: string): boolean {
  const folder = entry.endsWith('/**/*.test.ts') ? entry.slice(0, -'/**/*.test.ts'.length) : null;
  return folder ? file.startsWith(`${folder}/`) : file === entry;
}

describe('the unit test project', () => {
  it('every entry names at least one test file', () => {
    const files = testFiles();
    for (const entry of UNIT_TESTS) expect(files.some((f) => matches(entry, f)), entry).toBe(true);
  });

  it('has no service addresses, so a unit test that needs a service fails instead of quietly using one', () => {
    expect(() => requiredService('TEST_TEMPORAL_ADDRESS')).toThrow(/TEST_TEMPORAL_ADDRESS is not set/);
    expect(() => requiredService('TEST_POSTGRES_URL')).toThrow(/TEST_POSTGRES_URL is not set/);
    expect(process.env['TEST_REDIS_URL']).toBe('');
  });
});
