// Runs the step in Node: `npm test`.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Context } from 'cairn-sdk';
import step from '../src/index.js';

test('counts words', () => {
  assert.deepEqual(step.run(Context.local(), {}, { text: 'one two three' }), { words: 3 });
});

test('min_length', () => {
  assert.deepEqual(step.run(Context.local(), { min_length: 4 }, { text: 'one two three' }), { words: 1 });
});
