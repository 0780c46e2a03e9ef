/**
 * Process environment: addresses and secrets. Validated once at start-up; a bad value fails fast
 * naming the variable.
 */
import { z } from 'zod';
import { ConfigError, zodIssues } from '../errors';
import { DEFAULT_CONFIG_PATH, DEFAULT_DATABASE_URL, DEFAULT_TEMPORAL_ADDRESS, DEFAULT_TEMPORAL_NAMESPACE } from '../constants';

const EnvSchema = z.object({
  CONFIG_PATH: z.string().default(DEFAULT_CONFIG_PATH),
  DATABASE_URL: z
    .string()
    .default(DEFAULT_DATABASE_URL)
    .refine((u) => u.startsWith('file:') || /^postgres(ql)?:\/\//.test(u), 'DATABASE_URL must start with file: (SQLite) or postgresql://'),
  TEMPORAL_ADDRESS: z.string().default(DEFAULT_TEMPORAL_ADDRESS),
  TEMPORAL_NAMESPACE: z.string().default(DEFAULT_TEMPORAL_NAMESPACE),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CA_PATH: z.string().optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  TEMPORAL_UI_URL: z.string().default('http://127.0.0.1:8233'),
  EMULATOR_URL: z.url().optional(),
  /** The response cache lives in Redis instead of the database when set (redis://[:password@]host:port). */
  REDIS_URL: z
    .string()
    .refine((u) => /^rediss?:\/\//.test(u), 'REDIS_URL must start with redis:// or rediss://')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The OpenAI-compatible gateway (`npm run gateway`): port and interface (loopback unless configured). */
  GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  GATEWAY_HOST: z.string().min(1).default('127.0.0.1'),
  /** `on` (default): a worker runs in the gateway's process and requests start eagerly; `off`: a pure client in front of separate workers. */
  GATEWAY_WORKER: z.enum(['on', 'off']).default('on'),
  /** How long the gateway waits for an answer before replying 504 with the workflow id (the workflow keeps running). Default: performance.request_timeout + 10 s. */
  GATEWAY_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).optional(),
  /** GET /metrics (Prometheus) of the worker and the gateway: port (0: any free one) and interface (loopback unless configured). */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** The Temporal SDK's own metrics (Runtime telemetry, Prometheus on METRICS_HOST), one per process; `off`: none. */
  METRICS_SDK_PORT: z.union([z.literal('off'), z.coerce.number().int().min(1).max(65535)]).default(9465),
  /** The codec server (`npm run codec-server`): port and interface (loopback unless configured). */
  CODEC_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(8888),
  CODEC_SERVER_HOST: z.string().min(1).default('127.0.0.1'),
  /** Codec server access tokens: comma-separated secrets (src/codec-server/access.ts); gateway admin API keys are accepted too. */
  CODEC_SERVER_KEYS: z.string().optional(),
  /** Browser origins allowed by CORS (comma-separated); default the origin of TEMPORAL_UI_URL and its localhost/127.0.0.1 twin. */
  CODEC_SERVER_CORS_ORIGINS: z.string().optional(),
  /** Largest request body the codec server reads, in bytes (default 16 MiB). */
  CODEC_SERVER_BODY_LIMIT: z.coerce.number().int().min(1024).optional(),
  /** Payload encryption keys, newest first: `<id>:<base64 of 32 bytes>,...` (src/privacy/payload-keys.ts). */
  PAYLOAD_KEYS: z.string().optional(),
  /** A file holding the same entries, one per line (a mounted secret). */
  PAYLOAD_KEYS_FILE: z.string().optional(),
  /** `on` (default): every Temporal payload is AES-256-GCM encrypted; `off`: plain JSON in histories. */
  PAYLOAD_ENCRYPTION: z.enum(['on', 'off']).default('on'),
  /** `production` makes configured payload keys mandatory (no generated local key). */
  NODE_ENV: z.string().optional(),
  /** `on`: prompt and answer text may appear in debug-level logs; `off` (default): redacted at every level. */
  LOG_PROMPTS: z.enum(['on', 'off']).default('off'),
  /** OpenTelemetry traces by OTLP/HTTP (JSON) to `<endpoint>/v1/traces` when set (src/tracing/tracing.ts); unset: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL' }).optional(),
  /** The full traces URL instead (used as given; wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/, error: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http:// or https:// URL' }).optional(),
  /** The traces' `service.name` (default llm-orchestrator). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});
export type Env = z.infer<typeof EnvSchema>;

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error);
    throw new ConfigError(`environment is invalid:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`, issues);
  }
  if (Boolean(parsed.data.TEMPORAL_TLS_CERT_PATH) !== Boolean(parsed.data.TEMPORAL_TLS_KEY_PATH)) {
    throw new ConfigError('TEMPORAL_TLS_CERT_PATH and TEMPORAL_TLS_KEY_PATH must be set together', [
      { path: 'TEMPORAL_TLS_CERT_PATH', message: 'set together with TEMPORAL_TLS_KEY_PATH' },
    ]);
  }
  return parsed.data;
}
