/**
 * Our side of `bench:versus`, in its own process as LiteLLM's proxy is in its own: the gateway
 * with its in-process worker and eager workflow start (startGateway, as `npm run gateway` runs it
 * with GATEWAY_WORKER=on), on a private task queue of the bench's dev server. The bench starts it,
 * SIGKILLs it for the crash case and starts it again on the same port and database.
 *
 *   CONFIG_PATH, DATABASE_URL, EMULATOR_URL, TEMPORAL_ADDRESS   as for the worker
 *   GATEWAY_PORT                                                where it listens (loopback)
 *   VERSUS_TASK_QUEUE                                           its task queue
 *
 * Prints one line `VERSUS_READY {"url":...,"key":...}` once it serves (a new API key of user
 * `bench` each start; the earlier ones stay valid).
 */
import { loadEnv } from '../src/config/env';
import { createLogger } from '../src/logger';
import { startGateway } from '../src/gateway/start';

async function main(): Promise<void> {
  const env = loadEnv();
  const taskQueue = process.env['VERSUS_TASK_QUEUE'];
  if (!taskQueue) throw new Error('VERSUS_TASK_QUEUE is not set');
  const gateway = await startGateway({
    env,
    logger: createLogger('error', 'bench-versus'),
    taskQueue,
    host: '127.0.0.1',
    port: env.GATEWAY_PORT,
    eagerStart: true,
    runtime: { secrets: {}, routingPolicyWorkflowId: `routing-policy-${taskQueue}` },
    ensureSchedule: false,
  });
  const { key } = await gateway.keys.create({ userId: 'bench' });
  process.stdout.write(`VERSUS_READY ${JSON.stringify({ url: gateway.url, key })}\n`);
  const stop = () => void gateway.close().then(() => process.exit(0), () => process.exit(1));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error('bench:versus gateway failed:', err);
  process.exit(1);
});
