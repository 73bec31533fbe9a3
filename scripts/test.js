#!/usr/bin/env node
// `npm run test:unit` (about half a minute: losses, checkpoints, data, metrics, backends), `npm run
// test:integration` (the CLIs, training, the benchmark, packing), `npm run test:browser` (the
// notebooks, the course site, JupyterLab, figures, WebGPU, the verification page), `npm run
// test:e2e` (those two): tiers of the suite, after building. `npm test` runs every tier (what CI runs). Extra arguments go to
// `node --test`, e.g. `npm run test:unit -- --test-name-pattern=arcface`.
// Every test file is in exactly one tier (test/tiers.test.ts checks).
const path = require('path');
const { spawnSync } = require('child_process');

const TIERS = {
  unit: [
    'backend',
    'check-against',
    'checkpoint',
    'data',
    'eval',
    'init',
    'loss-table',
    'losses',
    'progress',
    'public-api',
    'read',
    'show',
    'tiers',
    'wasm-kernels',
  ],
  integration: ['bench', 'benchmark', 'cli', 'flagship', 'glyphs', 'gpu-check', 'package', 'recipe', 'safety', 'train'],
  browser: ['course', 'export', 'jupyterlab', 'notebooks', 'plot', 'webgpu'],
  // The tensorflow backend's own checks: `npm run test:native` (with train, recipe, eval and benchmark on it).
  native: ['native'],
};

module.exports = { TIERS };

if (require.main === module) {
  const args = process.argv.slice(2);
  const tiers = args.filter((a) => !a.startsWith('--'));
  const rest = args.filter((a) => a.startsWith('--'));
  const bad = tiers.filter((t) => !TIERS[t]);
  if (!tiers.length || bad.length) {
    console.error(
      `test: expected tiers (${Object.keys(TIERS).join(', ')}), got ${JSON.stringify(bad.length ? bad : tiers)}`,
    );
    process.exit(2);
  }
  const root = path.resolve(__dirname, '..');
  const files = tiers.flatMap((t) => TIERS[t]).map((f) => path.join(root, 'build', 'test', `${f}.test.js`));
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...rest, ...files], {
    stdio: 'inherit',
    cwd: root,
  });
  process.exit(r.status ?? 1);
}
