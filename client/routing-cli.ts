/**
 * `routing` commands for the orchestrator CLI (client/cli.ts calls addRoutingCommands(program)):
 *   routing show [--json]
 *   routing set-rule --task-type code_generation --complexity complex --providers openai,anthropic [--require-consensus] [--min-providers 2] [--fallback openai:gpt-4o] [--id my-rule] [--reason "..."]
 *   routing rollback <version> [--reason "..."]
 * A rejected change exits non-zero with the workflow's reason.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InvalidRequest } from '../src/errors';
import { ruleId, type RoutingPolicy, type RoutingRuleInput } from '../src/routing/policy';
import { rollback, setRule, showRouting, type RoutingChangeResult, type RoutingClientOptions, type RoutingView } from './routing';
import { cliUser, intArg } from './cli-args';

export interface RoutingCliOptions {
  /** How to reach Temporal (default: from the environment, as the rest of the CLI). */
  connect?: () => Promise<{ routing: RoutingClientOptions; close(): Promise<void> }>;
  /** Where output goes (default console.log). */
  out?: (line: string) => void;
}

async function connectFromEnv(): Promise<{ routing: RoutingClientOptions; close(): Promise<void> }> {
  // Loaded here, not at the top: `--help` needs none of it (start-up time).
  const [{ Client, Connection }, { loadEnv }, { clientConnectionOptions }, { dataConverterFor }] = await Promise.all([
    import('@temporalio/client'),
    import('../src/config/env'),
    import('../src/temporal/connection'),
    import('../src/temporal/data-converter'),
  ]);
  const env = loadEnv();
  const connection = await Connection.connect(clientConnectionOptions(env));
  return { routing: { client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFor(env) }) }, close: () => connection.close() };
}

function listArg(v: string): string[] {
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list, e.g. openai,anthropic:claude-sonnet-4-6');
  return items;
}

function route(providers: readonly string[], fallback: readonly string[]): string {
  return `${providers.join(', ')}${fallback.length > 0 ? ` (fallback ${fallback.join(', ')})` : ''}`;
}

export function formatPolicy(view: RoutingView, out: (line: string) => void): void {
  const p: RoutingPolicy = view.policy;
  const objective = p.objective.kind === 'quality_first'
    ? `quality first${p.objective.maxCostUsd !== undefined ? `, cost <= $${p.objective.maxCostUsd}` : ''}${p.objective.maxLatencyMs !== undefined ? `, p95 <= ${p.objective.maxLatencyMs} ms` : ''}`
    : `weighted (quality ${p.objective.quality}, success ${p.objective.success}, cost ${p.objective.cost}, latency ${p.objective.latency})`;
  out(`Routing policy v${p.version}`);
  out(`  strategy      ${p.strategy}`);
  out(`  exploration   ${p.explorationRate} (${p.explorationMethod})`);
  out(`  objective     ${objective}`);
  out(`  last change   ${p.updatedAt} by ${p.source}: ${p.reason}`);
  if (view.base) {
    // config.yaml is the base; run-time changes (CLI, SDK, improvement loop) are layered on it.
    out(`  base          config.yaml${view.base.hash ? ` (${view.base.hash})` : ''}; run-time changes on top: ${view.base.layers.length > 0 ? view.base.layers.join(', ') : 'none'}`);
  }
  out('');
  out('Rules (exact complexity beats any, then the earlier rule)');
  if (p.rules.length === 0) out('  (none)');
  for (const r of p.rules) {
    const extra = [r.require_consensus ? 'consensus' : null, r.min_providers !== undefined ? `min ${r.min_providers}` : null].filter(Boolean).join(', ');
    out(`  ${ruleId(r).padEnd(24)} ${`${r.task_type}/${r.complexity}`.padEnd(28)} ${route(r.providers, r.fallback)}${extra ? `  [${extra}]` : ''}`);
  }
  out(`  ${'default'.padEnd(24)} ${'(no rule matches)'.padEnd(28)} ${route(p.defaultProviders, p.defaultFallback)}`);
  const demoted = Object.entries(p.demoted);
  if (demoted.length > 0) {
    out('');
    out('Demoted (fallback only)');
    for (const [target, d] of demoted) out(`  ${target}  since ${d.at} by ${d.source}: ${d.reason}`);
  }
  const weights = Object.entries(p.weights);
  if (weights.length > 0) out(`\nWeights  ${weights.map(([k, w]) => `${k}=${w}`).join(', ')}`);
  out('');
  out('Versions (latest 10)');
  for (const h of view.history.slice(-10)) out(`  v${String(h.version).padEnd(5)} ${h.at}  ${h.kind.padEnd(15)} ${h.source}: ${h.summary} (${h.reason})`);
  if (view.rejections.length > 0) {
    out('');
    out('Rejected changes (latest 5)');
    for (const r of view.rejections.slice(-5)) out(`  ${r.rejectedAt}  ${r.kind} from ${r.source ?? '?'}: ${r.error.message}`);
  }
  if (view.stats) out(`\nStatistics: ${view.stats.observations} provider calls, as of ${view.stats.asOf}`);
}

/** Print an outcome; a rejection becomes an InvalidRequest (non-zero exit from the CLI). */
function report(result: RoutingChangeResult, out: (line: string) => void): void {
  switch (result.status) {
    case 'accepted':
      out(`accepted: routing policy v${result.version} (${result.summary})`);
      return;
    case 'unchanged':
      out(`unchanged: routing policy v${result.version} already says so (${result.summary})`);
      return;
    case 'pending':
      out(`sent (change ${result.id}), not applied yet: is a worker running? Check with \`routing show\`.`);
      return;
    case 'rejected':
      throw new InvalidRequest(`routing change rejected (${result.error.code}): ${result.error.message}`, result.error.issues.map(({ path, message }) => ({ path, message })));
  }
}

export function addRoutingCommands(program: Command, cli: RoutingCliOptions = {}): Command {
  const out = cli.out ?? ((line: string) => console.log(line));
  const connect = cli.connect ?? connectFromEnv;
  const withRouting = async <T>(fn: (o: RoutingClientOptions) => Promise<T>): Promise<T> => {
    const connection = await connect();
    try {
      return await fn(connection.routing);
    } finally {
      await connection.close();
    }
  };

  const routing = program.command('routing').description('show and change the routing policy (the routing-policy workflow)');

  routing
    .command('show')
    .description('the current routing policy, its versions and rejected changes')
    .option('--json', 'print as JSON')
    .action(async (o: { json?: boolean }) => {
      const view = await withRouting((r) => showRouting(r));
      if (o.json) out(JSON.stringify(view, null, 2));
      else formatPolicy(view, out);
    });

  routing
    .command('set-rule')
    .description('add a routing rule, or replace the one for the same id or task type and complexity')
    .requiredOption('--task-type <type>', 'task type, e.g. code_generation')
    .addOption(new Option('--complexity <level>', 'complexity the rule applies to').choices(['simple', 'medium', 'complex', 'any']).default('any'))
    .requiredOption('--providers <list>', 'comma-separated providers, e.g. openai,anthropic:claude-sonnet-4-6', listArg)
    .option('--fallback <list>', 'comma-separated fallback chain', listArg)
    .option('--require-consensus', 'call every listed provider and agree on one answer')
    .option('--min-providers <n>', 'answers required', intArg('--min-providers'))
    .option('--id <id>', 'rule id (default <task-type>:<complexity>)')
    .option('--reason <text>', 'why (recorded with the version)', 'set from the CLI')
    .option('--source <who>', 'who changes it (default cli:<user>)')
    .option('--json', 'print the outcome as JSON')
    .action(async (o: { taskType: string; complexity: 'simple' | 'medium' | 'complex' | 'any'; providers: string[]; fallback?: string[]; requireConsensus?: boolean; minProviders?: number; id?: string; reason: string; source?: string; json?: boolean }) => {
      const rule: RoutingRuleInput = {
        task_type: o.taskType,
        complexity: o.complexity,
        providers: o.providers,
        ...(o.fallback !== undefined && { fallback: o.fallback }),
        ...(o.requireConsensus === true && { require_consensus: true }),
        ...(o.minProviders !== undefined && { min_providers: o.minProviders }),
        ...(o.id !== undefined && { id: o.id }),
      };
      const result = await withRouting((r) => setRule(r, { rule, source: o.source ?? cliUser(), reason: o.reason }));
      if (o.json) out(JSON.stringify(result, null, 2));
      report(result, out);
    });

  routing
    .command('rollback')
    .description('make an earlier version current again (recorded as a new version)')
    .argument('<version>', 'version number', intArg('version'))
    .option('--reason <text>', 'why (recorded with the version)', 'rolled back from the CLI')
    .option('--source <who>', 'who changes it (default cli:<user>)')
    .option('--json', 'print the outcome as JSON')
    .action(async (version: number, o: { reason: string; source?: string; json?: boolean }) => {
      const result = await withRouting((r) => rollback(r, { version, source: o.source ?? cliUser(), reason: o.reason }));
      if (o.json) out(JSON.stringify(result, null, 2));
      report(result, out);
    });

  return program;
}
