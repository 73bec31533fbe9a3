#!/usr/bin/env node
// `npm run doctor`: a setup diagnosis to paste into a bug report. Exits non-zero when a
// forced backend (MARGIN_LAB_BACKEND) cannot load or the library is not built.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const os = require('os');
const { ROOT, KERNEL_NAME, jupyterEnv, findJupyter, findJupyterLab, findPython } = require('./lib/project');

/** Terminal colour and cursor codes (CSI sequences), as `jupyter labextension list` prints them. */
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
/** Text from another program, without its colour codes: this report is pasted into bug reports. */
const plain = (t) => String(t).replace(ANSI, '');

/**
 * What each optional part gives and how to get it, for its line when it is missing. Keys are the
 * report's labels.
 */
const OPTIONAL = {
  jupyterlab:
    'npm start makes .venv-lab with it (python3 -m venv .venv-lab && .venv-lab/bin/pip install jupyterlab==4.6.4 plotly==7.1.0), or opens the classic Notebook where no package index is reachable',
  '@tensorflow/tfjs-node':
    'the native tensorflow backend (libtensorflow on the CPU, several times faster than wasm for training): npm install @tensorflow/tfjs-node where its download works, or npm run native:setup in this repository offline',
  '@tensorflow/tfjs-node-gpu':
    'tensorflow on an NVIDIA GPU through CUDA: npm install @tensorflow/tfjs-node-gpu on a machine with CUDA and cuDNN',
  '@tensorflow/tfjs-backend-webgpu':
    'the webgpu backend (any GPU with a Vulkan, Metal or D3D12 driver, through Dawn): npm install @tensorflow/tfjs-backend-webgpu webgpu',
  webgpu: 'Dawn for Node, which the webgpu backend runs on: npm install webgpu @tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-wasm':
    'the wasm backend, the portable CPU one: npm install (it is a dependency of margin-lab)',
  tslab: 'the TypeScript kernel the notebooks run on: npm install in this repository',
};

/** A missing part's line: "not installed: what it gives; how to get it". */
const missing = (label) => `not installed${OPTIONAL[label] ? `: ${OPTIONAL[label]}` : ''}`;

const lines = [];
const say = (k, v) => lines.push(`${k.padEnd(18)} ${plain(v)}`);
let status = 0;

const pkg = require(path.join(ROOT, 'package.json'));
say('margin-lab', pkg.version);
say(
  'node',
  `${process.version} (${os.platform()} ${os.arch()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB)`,
);
// The jupyter on PATH (what a terminal runs), and the JupyterLab npm start uses: the project's
// .venv-lab or .venv first (or MARGIN_LAB_JUPYTER), then PATH's.
const jupyter = findJupyter();
const env = jupyterEnv();
const lab = findJupyterLab(env);
say(
  'jupyter',
  jupyter
    ? `${jupyter.bin}`
    : lab
      ? `not on PATH (npm start uses ${lab.bin})`
      : 'NOT FOUND (npm start makes .venv-lab with JupyterLab; or apt-get install jupyter-notebook)',
);
say('jupyterlab', lab ? `${lab.version} (${lab.bin}, what npm start opens)` : missing('jupyterlab'));
const any = jupyter ? jupyter.bin : lab ? lab.bin : null;
if (any) {
  const nb = spawnSync(any, ['notebook', '--version'], { env, encoding: 'utf8' });
  say('notebook', nb.status === 0 ? nb.stdout.trim() : 'not installed');
}
if (lab) {
  // Which renderer Lab uses for figures: plotly's own labextension, or the HTML fallback.
  const ext = spawnSync(lab.bin, ['labextension', 'list'], { env, encoding: 'utf8' });
  const found = `${ext.stdout || ''}\n${ext.stderr || ''}`.split('\n').find((l) => /jupyterlab-plotly/.test(l));
  say(
    'plotly in Lab',
    found
      ? `${found.trim().replace(/\s+/g, ' ')} (Lab's native Plotly renderer)`
      : 'jupyterlab-plotly not installed: figures render through the bundled HTML fallback (pip install plotly adds the native renderer)',
  );
}
if (any) {
  const ks = spawnSync(any, ['kernelspec', 'list'], { env, encoding: 'utf8' });
  const line = (ks.stdout || '').split('\n').find((l) => l.trim().startsWith(KERNEL_NAME + ' '));
  say(
    'kernel',
    line
      ? `registered: ${line.trim()}`
      : `NOT registered (run npm install; kernelspec list said: ${(ks.stdout || ks.stderr).trim()})`,
  );
}
const py = findPython('nbclient');
say(
  'nbclient (tests)',
  py ? `found for ${py}` : 'not found (needed only for npm test: apt-get install python3-nbclient)',
);
let tslabVersion = missing('tslab');
try {
  tslabVersion = require(require.resolve('tslab/package.json', { paths: [ROOT] })).version;
} catch (_) {}
say('tslab', tslabVersion);
for (const p of [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
  '@tensorflow/tfjs-backend-webgpu',
  'webgpu',
]) {
  let v = missing(p);
  try {
    // Resolved as the library resolves it: in a user's project the packages are hoisted beside margin-lab.
    v = require(require.resolve(`${p}/package.json`, { paths: [ROOT] })).version;
  } catch (_) {}
  say(p, v);
}
console.log(lines.join('\n'));

/** Prints one line at once, in the table's layout. */
function say2(k, v) {
  console.log(`${k.padEnd(18)} ${plain(v)}`);
}
const dist = path.join(ROOT, 'dist', 'index.js');
if (!fs.existsSync(dist)) {
  console.log(`backend            unknown: the library is not built (${dist} missing): run npm run build`);
  process.exit(1);
}
const lib = require(dist);
// Every WebGPU adapter Dawn can see (probed in a child process, so a driver crash cannot take this
// one down), with whatever the driver printed: the first thing to read when webgpu is not chosen.
const probe = lib.probeAdapters();
if (probe.adapters.length === 0) say2('webgpu adapters', `none: ${probe.problems.join('; ')}`);
probe.adapters.forEach((a, i) => say2(i === 0 ? 'webgpu adapters' : '', lib.adapterLine(a)));
for (const l of probe.driverLog.slice(0, 12)) say2('  driver said', l);
if (probe.driverLog.length > 12) say2('  driver said', `(${probe.driverLog.length - 12} more lines)`);
lib
  .useBestBackend({ print: false })
  .then((r) => {
    console.log(`backend            ${r.line}`);
    process.exit(status);
  })
  .catch((e) => {
    console.log(`backend            FAILED: ${e.message}`);
    process.exit(1);
  });
