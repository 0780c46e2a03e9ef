/**
 * The document evaluator as a plugin. The worker finds it by itself: it scans the `plugins/` folder
 * next to the example's configuration (startWorker's `pluginDir`), loads this module and registers
 * the evaluator for `document_analysis` before it polls; `npm run cli -- plugins` and the start log
 * list it. Without plugins, the same is one line in the worker's setup:
 *
 *   startWorker({ setup: (runtime) => runtime.evaluators.register('document_analysis', new DocumentComplexityEvaluator()) })
 */
import { definePlugin } from '../../../src/plugins/types';
import { DocumentComplexityEvaluator } from '../document-evaluator';

export default definePlugin({
  name: 'document-evaluator',
  version: '1.0.0',
  complexityEvaluators: { document_analysis: new DocumentComplexityEvaluator() },
});
