/**
 * The external services the suite needs are started by `npm test` (scripts/test.sh), which
 * exports their addresses. A test that needs one and does not find it fails loudly: it never
 * skips silently.
 */
export function requiredService(name: 'TEST_TEMPORAL_ADDRESS' | 'TEST_POSTGRES_URL' | 'TEST_PYTHON'): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set. Run the suite with \`npm test\`, which starts the Temporal dev server and PostgreSQL ` +
        '(and makes a Python venv with temporalio for TEST_PYTHON, scripts/python-env.sh) ' +
        `and exports ${name}; or export it yourself to point at a running service.`,
    );
  }
  return value;
}
