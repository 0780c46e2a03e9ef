/**
 * The chaos soak's short form (bench/chaos-soak.ts; the long one is `npm run bench:chaos`): two
 * worker processes (`node dist/worker.js`) on the suite's PostgreSQL (a fresh database of its own)
 * and a Temporal dev server of the soak's own (free port, state on disk), the emulator injecting
 * 10% errors and 1% hangs, one request a second for a minute; one worker SIGKILLed and restarted
 * at 30 s, the dev server restarted at 15 s. Nothing is lost, nothing is stored twice, no provider
 * call is repeated after the answer its request recorded, and the budget ledger equals the
 * recorded costs exactly. Every process it starts is ended, also when it fails or times out.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SOAK_OPTIONS, formatReport, killSoakProcesses, runSoak } from '../../bench/chaos-soak';
import { requiredService } from '../helpers/services';

afterAll(() => {
  // Only does something when the soak did not get to its own cleanup (a timeout).
  killSoakProcesses();
});

describe('chaos soak, one minute', () => {
  it('loses nothing, duplicates nothing and keeps the ledger exact through a worker SIGKILL and a dev-server restart', async () => {
    const report = await runSoak({
      ...DEFAULT_SOAK_OPTIONS,
      durationMs: 60_000,
      workers: 2,
      rate: 1,
      killEveryMs: 30_000,
      temporalRestartAtMs: 15_000,
      postgresStopAtMs: null,
      postgres: { url: requiredService('TEST_POSTGRES_URL') },
      drainMs: 90_000,
      log: () => undefined,
    });
    console.log(formatReport(report));
    expect(report.faults).toMatchObject({ workerKills: 1, temporalRestarts: 1, postgresStops: 0 });
    expect(report.submitted).toBeGreaterThanOrEqual(55);
    expect(report.lostDetail).toMatchObject({ untypedFailures: 0, neverAccepted: 0, unfinished: 0, answeredWithoutRecord: 0 });
    expect(report.lost).toBe(0);
    expect(report.answered + report.failedTyped).toBe(report.submitted);
    expect(report.duplicateInteractions).toBe(0);
    expect(report.providerCalls.repeatedAfterCompleting).toBe(0);
    // The emulator did inject faults, and the ledger has a row per request.
    expect(report.providerCalls.faulted).toBeGreaterThan(0);
    expect(report.ledger.rows).toBe(report.submitted);
    expect(report.ledger).toMatchObject({ mismatchedRows: 0, unsettled: 0, withoutInteraction: 0, exact: true });
    expect(report.ledger.ledgerUsd).toBeGreaterThan(0);
  }, 300_000);
});
