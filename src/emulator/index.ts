export {
  startEmulator,
  isLoopbackHost,
  parseDirectives,
  chooseFault,
  type EmulatorOptions,
  type RunningEmulator,
  type ModelStats,
  type EmulatedModel,
  type EmulatedModelInput,
  type Directives,
} from './server';
export { emulatedAnswer, claimsFor, arithmetic, approxTokens, unitHash, DEFAULT_ACCURACY, type AnswerOptions, type EmulatedAnswer } from './answers';
