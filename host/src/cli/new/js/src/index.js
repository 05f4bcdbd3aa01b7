// The `{{name}}` step type: counts the words in a text. Change it to do what
// your step should; `cairn plugins inspect` shows what it declares.
// @ts-check

import { defineStep, StepError } from 'cairn-sdk';

export default defineStep({
  name: '{{name}}',
  version: '0.1.0',
  description: 'Counts the words in a text.',
  // The host checks every call's config and input against these schemas
  // before the step runs.
  configSchema: {
    type: 'object',
    properties: { min_length: { type: 'integer', minimum: 1 } },
    additionalProperties: false,
  },
  inputSchema: {
    type: 'object',
    required: ['text'],
    properties: { text: { type: 'string' } },
  },
  outputSchema: {
    type: 'object',
    required: ['words'],
    properties: { words: { type: 'integer' } },
  },

  /** @param {{ min_length?: number }} config @param {{ text: string }} input */
  run(ctx, config, input) {
    ctx.progress(10, 'counting words');
    if (input.text.length > 1_000_000) {
      // StepError.retryable(...) is for failures that may pass later.
      throw StepError.fatal('the text is over 1 MB');
    }
    const minLength = config.min_length ?? 1;
    const words = input.text.split(/\s+/).filter((word) => word && [...word].length >= minLength).length;
    ctx.info(`${words} words`);
    return { words };
  },
});
