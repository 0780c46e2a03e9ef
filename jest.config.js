/**
 * Jest runs one thing here: the testing kit under Jest (test/jest/*.jest.ts), to prove that users
 * on Jest can use it. The project's own suite runs on Vitest (vitest.config.ts; README: Testing
 * your own code). TypeScript goes through @swc/jest (no type checking here: `npm run typecheck`).
 */
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/jest'],
  testMatch: ['**/*.jest.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }] },
  testTimeout: 120_000,
};
