/**
 * The project's root folder (the one holding its package.json), found from this module's location
 * rather than by a fixed number of `..`: the same code runs from the sources (tsx, vitest) and
 * bundled into `dist/` (`npm run build`), where `__dirname` is a different depth.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export function findProjectRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json found in ${from} or any folder above it`);
  }
}

export const PROJECT_ROOT = findProjectRoot(__dirname);
