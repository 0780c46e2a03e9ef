/**
 * One place that turns the environment into Temporal connection options, so the worker, the
 * client SDK and the CLI reach the same cluster (local dev server, self-hosted, or Temporal Cloud).
 */
import { readFileSync } from 'node:fs';
import { clientGrpcInterceptors } from './closed-channel';
import type { Connection, ConnectionOptions } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Env } from '../config/env';
import { SEARCH_ATTRIBUTE_NAMES } from '../constants';

type TlsSettings = NonNullable<ConnectionOptions['tls']>;

function tlsSettings(env: Env): TlsSettings | undefined {
  if (env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH) {
    return {
      clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT_PATH), key: readFileSync(env.TEMPORAL_TLS_KEY_PATH) },
      ...(env.TEMPORAL_TLS_CA_PATH && { serverRootCACertificate: readFileSync(env.TEMPORAL_TLS_CA_PATH) }),
      ...(env.TEMPORAL_TLS_SERVER_NAME && { serverNameOverride: env.TEMPORAL_TLS_SERVER_NAME }),
    };
  }
  // An API key (Temporal Cloud) implies TLS.
  return env.TEMPORAL_API_KEY ? {} : undefined;
}

export function clientConnectionOptions(env: Env): ConnectionOptions {
  const tls = tlsSettings(env);
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(tls !== undefined && { tls }),
    ...(env.TEMPORAL_API_KEY && { apiKey: env.TEMPORAL_API_KEY }),
    // The SDK's retries, and no uncaught "Channel has been shut down" from a retry after close().
    interceptors: clientGrpcInterceptors(),
  };
}

export function workerConnectionOptions(env: Env): NativeConnectionOptions {
  const tls = tlsSettings(env);
  return {
    address: env.TEMPORAL_ADDRESS,
    ...(tls !== undefined && { tls }),
    ...(env.TEMPORAL_API_KEY && { apiKey: env.TEMPORAL_API_KEY }),
  };
}

/**
 * Register the custom search attributes request workflows use, if missing. Idempotent.
 * On clusters where the operator API is not allowed (Temporal Cloud), create them in the
 * namespace settings instead; this reports which ones are missing.
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<{ created: string[] }> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = SEARCH_ATTRIBUTE_NAMES.filter((name) => !known.has(name));
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((name) => [name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  }
  return { created: missing };
}

export function webUiWorkflowUrl(env: Env, workflowId: string): string {
  return `${env.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(env.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(workflowId)}`;
}
