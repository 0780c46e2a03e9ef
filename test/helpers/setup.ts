// Quiet Temporal's worker logs in tests (warnings and errors still show).
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });

// Workers spawned by tests (npm run worker) serve /metrics on a free port and leave the SDK's
// metrics off, so that several of them, or a developer's own worker, never collide on 9464/9465.
process.env['METRICS_PORT'] ??= '0';
process.env['METRICS_SDK_PORT'] ??= 'off';
