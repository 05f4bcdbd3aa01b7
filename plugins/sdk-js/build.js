#!/usr/bin/env node
// `cairn-sdk build SOURCE -o OUT.wasm`: makes a step plugin component from a
// module whose default export is a `defineStep({...})`.
//
// componentize-js takes one module and resolves relative imports only, so the
// step and what it imports from npm (this SDK among them) are bundled first
// with esbuild into one module; `cairn:` and `wasi:` imports stay for
// componentize-js to wire to the WIT world this package carries.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const WORLD = 'cairn:step/plugin@0.2.0';
const here = dirname(fileURLToPath(import.meta.url));

const usage = 'usage: cairn-sdk build SOURCE -o OUT.wasm';

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const [command, source] = positionals;
  if (command === 'wit') {
    console.log(join(here, 'wit'));
    return 0;
  }
  if (command !== 'build' || !source || !values.output) {
    console.error(usage);
    return 2;
  }

  const [{ build }, { componentize }] = await Promise.all([
    import('esbuild'),
    import('@bytecodealliance/componentize-js'),
  ]);
  const work = await mkdtemp(join(tmpdir(), 'cairn-sdk-'));
  try {
    const entry = join(work, 'entry.js');
    await writeFile(
      entry,
      [
        `import * as host from 'cairn:step/host@0.2.0';`,
        `import { adapt } from ${JSON.stringify(join(here, 'index.js'))};`,
        `import definition from ${JSON.stringify(resolve(source))};`,
        `export const step = adapt(definition, host);`,
        '',
      ].join('\n'),
    );
    const bundle = join(work, 'bundle.js');
    await build({
      entryPoints: [entry],
      outfile: bundle,
      bundle: true,
      format: 'esm',
      // Not Node's or a browser's APIs; a package's ESM entry first.
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2022',
      external: ['cairn:*', 'wasi:*'],
      logLevel: 'warning',
    });
    const { component } = await componentize({
      sourcePath: bundle,
      witPath: join(here, 'wit'),
      worldName: WORLD,
      // A step has no use for fetch(); outbound HTTP goes through the host's
      // grants either way.
      disableFeatures: ['http', 'fetch-event'],
    });
    await writeFile(values.output, component);
    return 0;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`cairn-sdk: ${error.message ?? error}`);
    process.exit(1);
  },
);
