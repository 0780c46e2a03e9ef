/**
 * Loading on first use, for the CLI: `orchestrator --help` and argument errors should cost a node
 * start and commander, not the Temporal client, the Prisma runtime and the configuration schemas
 * (hundreds of milliseconds). A command group imports what its actions call through `lazyFn`.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function type: parameters are checked through F
type AsyncFn = (...args: any[]) => Promise<unknown>;

/** `fn`'s signature, with its module loaded (once, by the module system) only when it is first called. */
export function lazyFn<F extends AsyncFn>(load: () => Promise<F>): F {
  return (async (...args: Parameters<F>) => (await load())(...args)) as F;
}
