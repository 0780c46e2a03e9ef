import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { requiredService } from './services';

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
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    client: new Client({ connection }),
    nativeConnection,
    taskQueue: `test-${label}-${randomUUID().slice(0, 8)}`,
    async close() {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export const WORKFLOWS_PATH = join(__dirname, '..', '..', 'workflows', 'index.ts');
