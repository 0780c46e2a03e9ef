/**
 * The real local model for test/local-model: llama.cpp's llama-server serving SmolLM2-135M-Instruct,
 * started by `npm test` (scripts/test.sh -> scripts/local-model.sh start), which exports its base URL
 * as TEST_LOCAL_MODEL_URL. Without it these tests fail loudly; they never skip.
 */
import type { Config } from '../../src/config/schema';
import { type LocalModelProvider, withLocalModelProviders } from '../../scripts/local-model-config';

export { LOCAL_MODEL_ID } from '../../scripts/local-model-config';

export function localModelUrl(): string {
  const value = process.env['TEST_LOCAL_MODEL_URL'];
  if (!value) {
    throw new Error(
      'TEST_LOCAL_MODEL_URL is not set. Run the suite with `npm test`, which builds (once, cached in ~/.cache) and starts ' +
        "llama.cpp's llama-server with SmolLM2-135M (scripts/local-model.sh) and exports TEST_LOCAL_MODEL_URL; or run " +
        '`bash scripts/local-model.sh start` and export TEST_LOCAL_MODEL_URL=$(bash scripts/local-model.sh url).',
    );
  }
  return value;
}

/** `config` plus openai_compatible providers at the local server (one per entry, price 0). */
export function withLocalProviders(config: Config, entries: LocalModelProvider[]): Config {
  return withLocalModelProviders(config, localModelUrl(), entries);
}
