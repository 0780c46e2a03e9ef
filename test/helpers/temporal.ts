import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { requiredService } from './services';
import type { DataConverter } from '@temporalio/common';
import { loadEnv } from '../../src/config/env';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { clientGrpcInterceptors } from '../../src/temporal/closed-channel';

/**
 * The data converter of the tests' clients and workers: the checkout's own payload key (the
 * generated `.data/payload-keys`, as `npm run worker` and the CLI use, unless PAYLOAD_KEYS or
 * PAYLOAD_KEYS_FILE say otherwise), so tests run with encryption on, like a developer's machine.
 */
export function testDataConverter(): DataConverter {
  const { PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION } = process.env;
  return dataConverterFor(loadEnv({ PAYLOAD_KEYS, PAYLOAD_KEYS_FILE, PAYLOAD_ENCRYPTION }));
}

/** The public test key the recorded encrypted histories (test/histories/encrypted-*.json) were written with. */
export const HISTORY_FIXTURE_KEYS_FILE = join(__dirname, '..', 'histories', 'payload-keys');

export interface TemporalTestContext {
  address: string;
  client: Client;
  nativeConnection: NativeConnection;
  /** A task queue of its own, so parallel files never steal each other's tasks. */
  taskQueue: string;
  close(): Promise<void>;
}

export async function connectTestTemporal(label: string): Promise<TemporalTestContext> {
  const address = requiredService('TEST_TEMPORAL_ADDRESS');
  const connection = await Connection.connect({ address, interceptors: clientGrpcInterceptors() });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    client: new Client({ connection, dataConverter: testDataConverter() }),
    nativeConnection,
    taskQueue: `test-${label}-${randomUUID().slice(0, 8)}`,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export const WORKFLOWS_PATH = join(__dirname, '..', '..', 'workflows', 'index.ts');
