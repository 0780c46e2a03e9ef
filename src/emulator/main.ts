/**
 * Run the provider emulator on its own: `npm run emulator`. Uses emulator.host/port from the
 * config (CONFIG_PATH, default config.yaml); point workers at it with EMULATOR_URL.
 */
import { loadConfig } from '../config/load';
import { DEFAULT_CONFIG_PATH } from '../constants';
import { startEmulator } from './server';

async function main(): Promise<void> {
  const config = loadConfig(process.env['CONFIG_PATH'] || DEFAULT_CONFIG_PATH);
  const { host, port } = config.emulator;
  let emulator;
  try {
    emulator = await startEmulator({ host, port, settings: config.emulator });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`provider emulator: port ${port} on ${host} is already in use (another emulator or worker?). Stop it or change emulator.port.`);
      process.exit(1);
    }
    throw err;
  }
  console.log(`provider emulator listening on ${emulator.url} (answers are emulated, not real models)`);
  console.log(`  use it from a worker with EMULATOR_URL=${emulator.url}`);
  const stop = (): void => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`provider emulator: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
