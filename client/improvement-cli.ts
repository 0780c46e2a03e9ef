/**
 * `improvement` and `experiments` commands for the orchestrator CLI (client/cli.ts calls
 * addImprovementCommands(program)):
 *   improvement run [--window-hours 24] [--min-data-points 100] [--auto-apply-threshold 0.9] [--window-end <iso>] [--no-wait] [--json]
 *   improvement report [id] [--format markdown|json]
 *   improvement proposals [--status pending|applied|accepted|rejected|superseded|all] [--limit 50] [--json]
 *   improvement approve <proposal id> [--reason "..."] [--by who]
 *   improvement reject <proposal id> [--reason "..."] [--by who]
 *   improvement schedule [--trigger] [--json]       create or update the schedule from config.yaml; --trigger runs it now
 *   experiments create --name "..." --task-type qa --kind prompt_template --variants '<json>' --traffic-share 0.1 (--min-samples 400 | --baseline 0.7 --mde 0.05)
 *   experiments list [--status running|stopped|concluded] [--task-type qa] [--json]
 *   experiments show <id> [--json]
 *   experiments stop <id> --reason "..." [--by who]
 * Runs and decisions go through Temporal (workflows); reports, proposals and experiments are read
 * from and written to the database (DATABASE_URL). Errors exit non-zero with their code.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import type { Config } from '../src/config/schema';
import { InvalidRequest } from '../src/errors';
import { ImprovementError } from '../src/improvement/errors';
import { ExperimentKindSchema, type Experiment, type ExperimentAnalysis, type ExperimentInput } from '../src/improvement/experiments';
import { ProposalStatusSchema, type ProposalStatus } from '../src/improvement/proposals';
import { renderReportJson, renderReportMarkdown } from '../src/improvement/report';
import type { ImprovementScheduleState } from '../src/improvement/schedule';
import { minSampleSizePerArm } from '../src/improvement/statistics';
import type { ImprovementStore, StoredProposal } from '../src/improvement/store';
import type { ProposalDecisionResult } from '../workflows/improvement';
import { cliUser, numberArg } from './cli-args';
import type { ImprovementClientOptions } from './improvement';
import { lazyFn } from './lazy';

// Loaded when a command runs, not for --help (they bring the Temporal client and Prisma).
const ensureImprovementSchedule = lazyFn(async () => (await import('../src/improvement/schedule')).ensureImprovementSchedule);
const triggerImprovementNow = lazyFn(async () => (await import('../src/improvement/schedule')).triggerImprovementNow);
const approveProposal = lazyFn(async () => (await import('./improvement')).approveProposal);
const createExperiment = lazyFn(async () => (await import('./improvement')).createExperiment);
const getReport = lazyFn(async () => (await import('./improvement')).getReport);
const listExperiments = lazyFn(async () => (await import('./improvement')).listExperiments);
const listProposals = lazyFn(async () => (await import('./improvement')).listProposals);
const rejectProposal = lazyFn(async () => (await import('./improvement')).rejectProposal);
const runImprovement = lazyFn(async () => (await import('./improvement')).runImprovement);
const showExperiment = lazyFn(async () => (await import('./improvement')).showExperiment);
const stopExperiment = lazyFn(async () => (await import('./improvement')).stopExperiment);

export interface ImprovementConnection {
  improvement: ImprovementClientOptions;
  store: ImprovementStore;
  config: Pick<Config, 'improvement'>;
  close(): Promise<void>;
}

export interface ImprovementCliOptions {
  /** How to reach Temporal and the database (default: from the environment, as the rest of the CLI). */
  connect?: () => Promise<ImprovementConnection>;
  /** Where output goes (default console.log). */
  out?: (line: string) => void;
  /** Schedule id and input of scheduled runs (tests); default the real schedule. */
  schedule?: { scheduleId?: string; workflowInput?: { routingPolicyWorkflowId?: string } };
}

async function connectFromEnv(): Promise<ImprovementConnection> {
  const [{ Client, Connection }, { loadEnv }, { loadConfig }, { openImprovementStore }, { clientConnectionOptions }, { dataConverterFor }] = await Promise.all([
    import('@temporalio/client'),
    import('../src/config/env'),
    import('../src/config/load'),
    import('../src/improvement/store'),
    import('../src/temporal/connection'),
    import('../src/temporal/data-converter'),
  ]);
  const env = loadEnv();
  const config = loadConfig(env.CONFIG_PATH);
  const connection = await Connection.connect(clientConnectionOptions(env));
  const store = openImprovementStore(env.DATABASE_URL);
  return {
    improvement: { client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(env) }) },
    store,
    config,
    async close() {
      await store.close();
      await connection.close();
    },
  };
}

function pct(x: number | null): string {
  return x === null ? '-' : `${(x * 100).toFixed(1)}%`;
}

function printProposal(p: StoredProposal, out: (line: string) => void): void {
  out(`${p.id}  ${p.status.padEnd(10)} ${p.kind.padEnd(17)} conf ${p.confidence.toFixed(4)}  n=${p.dataPoints}  ${p.summary}`);
  if (p.decidedBy) out(`    decided by ${p.decidedBy} at ${p.decidedAt ?? '?'}${p.appliedVersion !== null ? `, routing policy v${p.appliedVersion}` : ''}${p.outcome ? `: ${p.outcome}` : ''}`);
  else if (p.decisionReason) out(`    ${p.decisionReason}`);
}

function printDecision(r: ProposalDecisionResult, out: (line: string) => void): void {
  const prefix = r.alreadyDecided ? `already decided: ${r.status}` : r.status;
  out(`${r.proposalId}: ${prefix}${r.decidedBy ? ` by ${r.decidedBy}` : ''}${r.appliedVersion !== null ? ` (routing policy v${r.appliedVersion})` : ''}${r.outcome ? `: ${r.outcome}` : ''}`);
}

function printSchedule(s: ImprovementScheduleState, out: (line: string) => void): void {
  out(`schedule ${s.scheduleId} ${s.created ? 'created' : 'updated'}: every ${s.intervalHours} h, ${s.paused ? 'PAUSED' : 'active'}${s.note ? ` (${s.note})` : ''}`);
  if (s.nextActionTimes.length > 0 && !s.paused) out(`  next run ${s.nextActionTimes[0]}`);
  for (const r of s.recentRuns.slice(-5)) out(`  ran ${r.scheduledAt}  ${r.workflowId}`);
}

function printExperiment(e: Experiment, out: (line: string) => void): void {
  out(`${e.id}  ${e.status.padEnd(9)} ${e.kind.padEnd(18)} ${e.taskType.padEnd(20)} ${Math.round(e.trafficShare * 100)}% traffic, ${e.minSamples}/variant  ${e.name}`);
}

function printAnalysis(a: ExperimentAnalysis, out: (line: string) => void): void {
  out(`  ${a.action}${a.winner ? `, winner "${a.winner}"` : ''}: ${a.reason}`);
  out(`  look: fraction ${a.look.fraction.toFixed(3)}, alpha ${a.look.alpha.toPrecision(3)}${a.look.final ? ' (final)' : ''}`);
  for (const v of a.variants) {
    const c = a.comparisons.find((x) => x.variant === v.name);
    out(
      `  ${v.name.padEnd(16)} n=${String(v.samples).padEnd(6)} success ${pct(v.successRate).padEnd(7)} good ${pct(v.goodRate).padEnd(7)} p50 ${v.latencyP50Ms === null ? '-' : Math.round(v.latencyP50Ms)} ms${c?.probabilityBetter != null ? `  P(better) ${c.probabilityBetter.toFixed(4)}` : ''}${c?.good ? `  p ${c.good.pValue.toExponential(2)}` : ''}${v.name === a.control ? '  (control)' : ''}`,
    );
  }
}

function parseVariants(text: string, from: string): ExperimentInput['variants'] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidRequest(`${from} is not valid JSON: ${(err as Error).message}`, [{ path: 'variants', message: 'invalid JSON' }]);
  }
  if (!Array.isArray(value)) throw new InvalidRequest(`${from} must be a JSON array of { name, share, config }`, [{ path: 'variants', message: 'not an array' }]);
  return value as ExperimentInput['variants'];
}

export function addImprovementCommands(program: Command, cli: ImprovementCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const connect = cli.connect ?? connectFromEnv;
  const withConnection = async <T>(fn: (c: ImprovementConnection) => Promise<T>): Promise<T> => {
    const c = await connect();
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  };

  const improvement = program.command('improvement').description('the self-improvement loop: analysis runs, reports, proposals, schedule');

  improvement
    .command('run')
    .description('run the improvement workflow now and print what it proposed and applied')
    .option('--window-hours <h>', 'hours of history to analyse (default improvement.window_hours)', numberArg('--window-hours'))
    .option('--min-data-points <n>', 'override improvement.min_data_points for this run', numberArg('--min-data-points', true))
    .option('--auto-apply-threshold <x>', 'override improvement.auto_apply_threshold for this run', numberArg('--auto-apply-threshold'))
    .option('--window-end <iso>', 'end of the window (default now)')
    .option('--by <who>', 'who asks (default cli:<user>)')
    .option('--no-wait', 'start and print the workflow id')
    .option('--json', 'print the result as JSON')
    .action(async (o: { windowHours?: number; minDataPoints?: number; autoApplyThreshold?: number; windowEnd?: string; by?: string; wait: boolean; json?: boolean }) => {
      const { workflowId, result } = await withConnection((c) =>
        runImprovement(
          c.improvement,
          {
            requestedBy: o.by ?? cliUser(),
            ...(o.windowHours !== undefined && { windowHours: o.windowHours }),
            ...(o.minDataPoints !== undefined && { minDataPoints: o.minDataPoints }),
            ...(o.autoApplyThreshold !== undefined && { autoApplyThreshold: o.autoApplyThreshold }),
            ...(o.windowEnd !== undefined && { windowEnd: o.windowEnd }),
          },
          o.wait,
        ),
      );
      if (o.json) {
        out(JSON.stringify({ workflowId, result }, null, 2));
        return;
      }
      if (!result) {
        out(workflowId);
        return;
      }
      out(`${workflowId}: report ${result.reportId ?? '-'}, window ${result.windowStart ?? '-'} to ${result.windowEnd ?? '-'}`);
      out(`  ${result.proposals.length} proposal(s): ${result.applied} applied, ${result.pending} pending`);
      for (const p of result.proposals) out(`  ${p.id}  ${p.status.padEnd(8)} ${p.kind.padEnd(17)} ${p.summary}${p.outcome ? `\n      ${p.outcome}` : ''}`);
      for (const e of result.experiments) out(`  experiment ${e.experimentId}: ${e.action}${e.winner ? `, winner "${e.winner}"` : ''}`);
    });

  improvement
    .command('report')
    .description('show an improvement report (default: the latest)')
    .argument('[id]', 'report id')
    .addOption(new Option('--format <format>', 'output format').choices(['markdown', 'json']).default('markdown'))
    .action(async (id: string | undefined, o: { format: 'markdown' | 'json' }) => {
      const stored = await withConnection((c) => getReport(c.store, id));
      if (!stored) throw new ImprovementError('ReportNotFound', 'no improvement report yet: run `improvement run` or wait for the schedule');
      out(o.format === 'json' ? renderReportJson(stored.report).trimEnd() : renderReportMarkdown(stored.report).trimEnd());
    });

  improvement
    .command('proposals')
    .description('list proposals (default: pending)')
    .addOption(new Option('--status <status>', 'which ones').choices([...ProposalStatusSchema.options, 'all']).default('pending'))
    .option('-n, --limit <n>', 'how many', numberArg('--limit', true), 50)
    .option('--json', 'print as JSON')
    .action(async (o: { status: ProposalStatus | 'all'; limit: number; json?: boolean }) => {
      const rows = await withConnection((c) => listProposals(c.store, { ...(o.status !== 'all' && { status: o.status }), limit: o.limit }));
      if (o.json) {
        out(JSON.stringify(rows, null, 2));
        return;
      }
      if (rows.length === 0) out(`no ${o.status === 'all' ? '' : `${o.status} `}proposals`);
      for (const p of rows) printProposal(p, out);
    });

  for (const [name, decision] of [
    ['approve', 'approve'],
    ['reject', 'reject'],
  ] as const) {
    improvement
      .command(name)
      .description(decision === 'approve' ? 'approve a pending proposal: routing changes are signalled to the routing-policy workflow' : 'reject a pending proposal')
      .argument('<id>', 'proposal id')
      .option('--reason <text>', 'why (recorded with the decision)')
      .option('--by <who>', 'who decides (default cli:<user>)')
      .option('--json', 'print the outcome as JSON')
      .action(async (id: string, o: { reason?: string; by?: string; json?: boolean }) => {
        const options = { proposalId: id, decidedBy: o.by ?? cliUser(), ...(o.reason !== undefined && { reason: o.reason }) };
        const result = await withConnection((c) => (decision === 'approve' ? approveProposal(c.improvement, options) : rejectProposal(c.improvement, options)));
        if (o.json) out(JSON.stringify(result, null, 2));
        else printDecision(result, out);
        if (decision === 'approve' && result.status === 'rejected' && !result.alreadyDecided) throw new ImprovementError('InvalidDecision', `proposal ${id} could not be applied: ${result.outcome ?? 'rejected'}`);
      });
  }

  improvement
    .command('schedule')
    .description('create or update the improvement schedule from config.yaml (paused when improvement.enable is false)')
    .option('--trigger', 'also start one run now')
    .option('--json', 'print as JSON')
    .action(async (o: { trigger?: boolean; json?: boolean }) => {
      const state = await withConnection(async (c) => {
        const s = await ensureImprovementSchedule({
          client: c.improvement.client,
          config: c.config,
          ...(c.improvement.taskQueue !== undefined && { taskQueue: c.improvement.taskQueue }),
          ...(cli.schedule?.scheduleId !== undefined && { scheduleId: cli.schedule.scheduleId }),
          ...(cli.schedule?.workflowInput !== undefined && { workflowInput: cli.schedule.workflowInput }),
        });
        if (o.trigger) await triggerImprovementNow({ client: c.improvement.client, scheduleId: s.scheduleId });
        return s;
      });
      if (o.json) out(JSON.stringify({ ...state, triggered: o.trigger === true }, null, 2));
      else {
        printSchedule(state, out);
        if (o.trigger) out(state.paused ? '  triggered: the run will skip itself while improvement.enable is false' : '  triggered: one run started now');
      }
    });

  const experiments = program.command('experiments').description('A/B experiments on live traffic');

  experiments
    .command('create')
    .description('start an experiment: the first variant is the control')
    .requiredOption('--name <name>', 'what it tests')
    .requiredOption('--task-type <type>', 'the task type whose traffic it takes')
    .addOption(new Option('--kind <kind>', 'what the variants differ in').choices(ExperimentKindSchema.options).makeOptionMandatory())
    .option('--variants <json>', 'JSON array of { name, share, config }')
    .option('--variants-file <path>', 'the same, from a file')
    .requiredOption('--traffic-share <x>', 'share of the task type\'s requests in the experiment, (0, 1]', numberArg('--traffic-share'))
    .option('--min-samples <n>', 'planned samples per variant', numberArg('--min-samples', true))
    .option('--baseline <p>', 'with --mde: the control\'s good-outcome rate, to compute --min-samples', numberArg('--baseline'))
    .option('--mde <d>', 'with --baseline: the smallest difference worth detecting', numberArg('--mde'))
    .option('--id <id>', 'experiment id (default from the name)')
    .option('--reason <text>', 'why')
    .option('--by <who>', 'who creates it (default cli:<user>)')
    .option('--json', 'print as JSON')
    .action(
      async (o: { name: string; taskType: string; kind: ExperimentInput['kind']; variants?: string; variantsFile?: string; trafficShare: number; minSamples?: number; baseline?: number; mde?: number; id?: string; reason?: string; by?: string; json?: boolean }) => {
        if ((o.variants === undefined) === (o.variantsFile === undefined)) throw new InvalidRequest('give the variants with exactly one of --variants or --variants-file', [{ path: 'variants', message: 'missing or given twice' }]);
        const variants = o.variants !== undefined ? parseVariants(o.variants, '--variants') : parseVariants(readFileSync(o.variantsFile!, 'utf8'), o.variantsFile!);
        let minSamples = o.minSamples;
        if (minSamples === undefined) {
          if (o.baseline === undefined || o.mde === undefined) throw new InvalidRequest('give --min-samples, or --baseline and --mde to compute it', [{ path: 'minSamples', message: 'missing' }]);
          minSamples = minSampleSizePerArm({ baseline: o.baseline, minDetectableEffect: o.mde });
        }
        const e = await withConnection((c) =>
          createExperiment(c.store, {
            name: o.name,
            kind: o.kind,
            taskType: o.taskType,
            variants,
            trafficShare: o.trafficShare,
            minSamples,
            createdBy: o.by ?? cliUser(),
            ...(o.id !== undefined && { id: o.id }),
            ...(o.reason !== undefined && { reason: o.reason }),
          }),
        );
        if (o.json) out(JSON.stringify(e, null, 2));
        else {
          out(`created experiment ${e.id}: ${e.variants.map((v) => `${v.name} ${Math.round(v.share * 100)}%`).join(' / ')} of ${Math.round(e.trafficShare * 100)}% of ${e.taskType} traffic, ${e.minSamples} samples per variant planned`);
        }
      },
    );

  experiments
    .command('list')
    .description('list experiments, newest first')
    .addOption(new Option('--status <status>', 'which ones').choices(['running', 'stopped', 'concluded']))
    .option('--task-type <type>', 'only this task type')
    .option('--json', 'print as JSON')
    .action(async (o: { status?: Experiment['status']; taskType?: string; json?: boolean }) => {
      const rows = await withConnection((c) => listExperiments(c.store, { ...(o.status && { status: o.status }), ...(o.taskType && { taskType: o.taskType }) }));
      if (o.json) out(JSON.stringify(rows, null, 2));
      else if (rows.length === 0) out('no experiments');
      else for (const e of rows) printExperiment(e, out);
    });

  experiments
    .command('show')
    .description('an experiment and its analysis now')
    .argument('<id>', 'experiment id')
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      const shown = await withConnection((c) => showExperiment(c.store, id, { alpha: c.config.improvement.experiments.alpha, guardrailAlpha: c.config.improvement.experiments.guardrail_alpha }));
      if (o.json) {
        out(JSON.stringify(shown, null, 2));
        return;
      }
      printExperiment(shown.experiment, out);
      if (shown.experiment.reason) out(`  ${shown.experiment.reason}`);
      printAnalysis(shown.analysis, out);
    });

  experiments
    .command('stop')
    .description('stop a running experiment')
    .argument('<id>', 'experiment id')
    .requiredOption('--reason <text>', 'why (recorded)')
    .option('--by <who>', 'who stops it (default cli:<user>)')
    .action(async (id: string, o: { reason: string; by?: string }) => {
      const e = await withConnection((c) => stopExperiment(c.store, id, { by: o.by ?? cliUser(), reason: o.reason }));
      out(`stopped experiment ${e.id}: ${e.reason ?? ''}`);
    });

  return program;
}
