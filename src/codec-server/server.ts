/**
 * The codec server (`npm run codec-server`): Temporal's codec server protocol over the payload
 * codec (src/privacy/payload-codec.ts), so that the Web UI and `temporal workflow show
 * --codec-endpoint` show decoded payloads to people allowed to read them.
 *
 *   POST /encode, POST /decode                 Authorization: Bearer <codec key | admin API key>
 *   POST /ui/<token>/encode, /ui/<token>/decode  the same, the token in the path: the endpoint URL
 *                                              `http://host:port/ui/<token>` for the Web UI
 *   OPTIONS (CORS preflight)                   for the configured Web UI origins only
 *   GET /healthz                               { status: 'ok', service: 'codec-server' }, no token
 *
 * Bodies and answers are `{ payloads: [{ metadata: { k: base64 }, data: base64 }] }`; the header
 * X-Namespace is read for the log line. Payloads that are not this codec's ciphertext pass
 * through unchanged. Refusals are JSON `{ error: { code, message } }`: 401 without a valid token,
 * 403 for a non-admin API key (both with CORS headers, so the browser sees them and the UI shows
 * ciphertext), 400 for a bad body or a payload under a key this server does not hold (naming the
 * payload and the key id), 413 over the body limit. The token is checked before the body is read;
 * no token and no payload content is ever logged.
 */
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../logger';
import { bearerKey } from '../gateway/auth';
import { payloadKeyId, PayloadDecryptionError, type AesGcmPayloadCodec } from '../privacy/payload-codec';
import type { AccessResult } from './access';
import { payloadFromJson, payloadToJson, PayloadsBodySchema } from './payloads-json';

export const CODEC_SERVICE_NAME = 'codec-server';
/** Default body limit: a batch of payloads at Temporal's 2 MB payload limit each, with room. */
export const DEFAULT_CODEC_BODY_LIMIT = 16 * 1024 * 1024;
const CORS_ALLOWED_HEADERS = ['Content-Type', 'X-Namespace', 'Authorization'];

export interface CodecServerDeps {
  codec: AesGcmPayloadCodec;
  /** Decides a token (src/codec-server/access.ts accessChecker). */
  checkAccess: (token: string | undefined) => Promise<AccessResult>;
  /** Browser origins allowed by CORS (the Web UI's). */
  corsOrigins: readonly string[];
  logger: Logger;
  /** Bytes (default DEFAULT_CODEC_BODY_LIMIT). */
  bodyLimit?: number;
}

class CodecHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const errorBody = (code: string, message: string) => ({ error: { code, message } });

type Operation = 'encode' | 'decode';
type TokenRequest = FastifyRequest<{ Params: { token?: string } }>;

export async function buildCodecServer(deps: CodecServerDeps): Promise<FastifyInstance> {
  const bodyLimit = deps.bodyLimit ?? DEFAULT_CODEC_BODY_LIMIT;
  // No Fastify logger: its request lines carry the URL, and /ui/<token> URLs hold a secret.
  const app = Fastify({ logger: false, bodyLimit });
  const origins = new Set(deps.corsOrigins);
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin !== undefined && origins.has(origin)),
    methods: ['POST', 'GET'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    credentials: true,
    maxAge: 600,
    strictPreflight: false,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (err instanceof CodecHttpError) return reply.code(err.status).send(errorBody(err.code, err.message));
    switch (err.code) {
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return reply.code(400).send(errorBody('invalid_json', `the body is not valid JSON: ${err.message}`));
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return reply.code(413).send(errorBody('body_too_large', `the body is larger than the limit of ${bodyLimit} bytes (CODEC_SERVER_BODY_LIMIT)`));
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return reply.code(415).send(errorBody('unsupported_media_type', `send Content-Type: application/json (got ${request.headers['content-type'] ?? 'none'})`));
      default:
        break;
    }
    if (err instanceof SyntaxError || err.statusCode === 400) return reply.code(400).send(errorBody('invalid_json', `the body is not valid JSON: ${err.message}`));
    deps.logger.error({ err: err.message }, 'codec server: unexpected error');
    return reply.code(500).send(errorBody('internal_error', 'internal error (see the codec server log)'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('not_found', `no such endpoint: ${request.method} (the codec server answers POST /encode and POST /decode)`)));

  app.get('/healthz', () => ({ status: 'ok', service: CODEC_SERVICE_NAME }));

  /** Which token a request shows: the path's for /ui/<token>/..., else the bearer header's. */
  const tokenOf = (request: TokenRequest): string | undefined => request.params.token ?? bearerKey(request);
  const accepted = new WeakMap<FastifyRequest, string>();

  const authorize = async (request: TokenRequest) => {
    const result = await deps.checkAccess(tokenOf(request));
    if (!result.ok) {
      deps.logger.info({ status: result.status, code: result.code, namespace: request.headers['x-namespace'] ?? null }, 'codec server refused a request');
      throw new CodecHttpError(result.status, result.code, result.message);
    }
    accepted.set(request, result.who);
  };

  const handle = (operation: Operation) => async (request: TokenRequest, reply: FastifyReply) => {
    const started = performance.now();
    const parsed = PayloadsBodySchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '';
      throw new CodecHttpError(400, 'invalid_body', `invalid body${where ? ` at ${where}` : ''}: ${issue?.message ?? 'expected { payloads: [...] }'} (expected { "payloads": [ { "metadata": { "<key>": "<base64>" }, "data": "<base64>" } ] })`);
    }
    const payloads = parsed.data.payloads.map(payloadFromJson);
    const out = payloads.map((p, i) => {
      if (operation === 'encode') return deps.codec.encryptOne(p);
      const keyId = payloadKeyId(p);
      if (keyId !== null && !deps.codec.keyring.keys.some((k) => k.id === keyId)) {
        throw new CodecHttpError(400, 'unknown_key', `payloads[${i}] is encrypted with key '${keyId}', which this codec server does not hold (it holds: ${deps.codec.keyring.keys.map((k) => k.id).join(', ')}); start it with that key in PAYLOAD_KEYS`);
      }
      try {
        return deps.codec.decryptOne(p);
      } catch (err) {
        if (err instanceof PayloadDecryptionError) throw new CodecHttpError(400, 'undecodable_payload', `payloads[${i}]: ${err.message}`);
        throw err;
      }
    });
    deps.logger.info(
      { operation, namespace: request.headers['x-namespace'] ?? null, payloads: out.length, access: accepted.get(request) ?? null, ms: Math.round(performance.now() - started) },
      'codec server request',
    );
    return reply.send({ payloads: out.map(payloadToJson) });
  };

  for (const operation of ['encode', 'decode'] as const) {
    app.post(`/${operation}`, { onRequest: authorize }, handle(operation));
    app.post(`/ui/:token/${operation}`, { onRequest: authorize }, handle(operation));
  }
  return app;
}
