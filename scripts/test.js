#!/usr/bin/env node
// `npm run test:unit` (about half a minute: losses, checkpoints, data, metrics, backends), `npm run
// test:integration` (the CLIs, training, the benchmark, packing), `npm run test:browser` (the
// notebooks, the course site, JupyterLab, figures, WebGPU, the verification page), `npm run
// test:e2e` (those two): tiers of the suite, after building. `npm test` runs every tier (what CI
// runs), the unit tier in parallel with the others (`all`, below). Extra arguments go to
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
    'options',
    'progress',
    'public-api',
    'read',
    'registry',
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

/**
 * `node scripts/test.js all` (what `npm test` runs): every tier, the unit tier in parallel with
 * the integration, browser and native tiers (each of those files one at a time: they train, spawn kernels
 * and browsers, and would only contend for the CPU), then the files in ALONE by themselves:
 * `npm pack` runs the package's `prepare`, which rewrites dist/ under any test reading it.
 */
const ALONE = ['package'];

function runAll(root, rest) {
  const { spawn } = require('child_process');
  const fs = require('fs');
  const os = require('os');
  const file = (f) => path.join(root, 'build', 'test', `${f}.test.js`);
  const lane = (name, files, log) =>
    new Promise((resolve) => {
      const t0 = Date.now();
      const out = log ? fs.openSync(log, 'w') : 'inherit';
      const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...rest, ...files.map(file)], {
        stdio: ['ignore', out, out],
        cwd: root,
      });
      child.on('close', (code, signal) => {
        if (log) fs.closeSync(out);
        resolve({ name, code: code ?? (signal ? 1 : 0), seconds: (Date.now() - t0) / 1000, log });
      });
    });
  const long = [...TIERS.integration, ...TIERS.browser, ...TIERS.native].filter((f) => !ALONE.includes(f));
  const unitLog = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-test-')), 'unit.log');
  const t0 = Date.now();
  return Promise.all([lane('unit', TIERS.unit, unitLog), lane('integration + browser + native', long)]).then(
    async (lanes) => {
      // The unit lane's report, whole, after the streamed one (interleaved they would be unreadable).
      process.stdout.write(`\n# ---- unit tier (ran in parallel with the other tiers) ----\n`);
      process.stdout.write(fs.readFileSync(unitLog, 'utf8'));
      lanes.push(await lane(`alone: ${ALONE.join(', ')}`, ALONE));
      console.log(`\n# test lanes (wall time ${((Date.now() - t0) / 1000).toFixed(0)} s):`);
      for (const l of lanes)
        console.log(
          `#   ${l.name}: ${l.code === 0 ? 'passed' : `FAILED (exit ${l.code})`} in ${l.seconds.toFixed(0)} s`,
        );
      return lanes.every((l) => l.code === 0) ? 0 : 1;
    },
  );
}

module.exports.ALONE = ALONE;

if (require.main === module) {
  const args = process.argv.slice(2);
  const tiers = args.filter((a) => !a.startsWith('--'));
  const rest = args.filter((a) => a.startsWith('--'));
  if (tiers.length === 1 && tiers[0] === 'all') {
    runAll(path.resolve(__dirname, '..'), rest).then((code) => process.exit(code));
    return;
  }
  const bad = tiers.filter((t) => !TIERS[t]);
  if (!tiers.length || bad.length) {
    console.error(
      `test: expected all, or tiers (${Object.keys(TIERS).join(', ')}), got ${JSON.stringify(bad.length ? bad : tiers)}`,
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
