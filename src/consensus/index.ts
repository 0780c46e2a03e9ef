export * from './strategy';
export * from './lexical';
import { LexicalConsensus } from './lexical';
import { ConsensusRegistry } from './strategy';

/** A registry holding the built-in strategies. */
export function defaultConsensusRegistry(): ConsensusRegistry {
  const registry = new ConsensusRegistry();
  registry.registerStrategy('lexical', new LexicalConsensus());
  return registry;
}
