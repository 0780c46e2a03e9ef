/**
 * The failure converter of every client and worker that encrypts payloads (named by path in
 * src/temporal/data-converter.ts; the workflow bundle is built with it, scripts/build.ts).
 *
 * A failure's message and stack trace go into its encoded attributes, a payload, so the payload
 * codec encrypts them like everything else: a provider's error text can quote the prompt it was
 * sent. The history then shows "Encoded failure"; the failure's type, non-retryable flag and
 * cause chain stay readable (workflows branch on the type). Every SDK's default converter, ours
 * included, restores message and stack from the decoded attributes.
 *
 * Plain CommonJS on purpose: the SDK loads it with require() by path, from the sources (tsx,
 * vitest) and from the compiled dist/ alike.
 */
'use strict';
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
