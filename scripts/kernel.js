#!/usr/bin/env node
// `npm run kernel:install [-- --user | --sys-prefix | --prefix DIR]`: registers the margin-lab
// TypeScript kernel with Jupyter, so that a Jupyter started any other way (plain `jupyter lab`,
// VS Code) lists it. `--user` (the default) installs it for your user, `--sys-prefix` into the
// Python environment of the `jupyter` on PATH, `--prefix DIR` under DIR/share/jupyter.
// `npm run kernel:remove [-- same flag]` removes it from there again (only a kernelspec that is
// margin-lab's: another kernel of the same name is left alone).
// The kernelspec points at this checkout: run kernel:install again after moving the folder.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { KERNEL_NAME, linkSelf, writeKernelspec, findJupyter, printHeaderHelp } = require('./lib/project');

function fail(msg, code = 2) {
  console.error(`margin-lab kernel: ${msg}`);
  process.exit(code);
}

const [action, ...argv] = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  printHeaderHelp(process.argv[1], 1, 9);
  process.exit(0);
}
if (action !== 'install' && action !== 'remove')
  fail(`expected install or remove, got ${JSON.stringify(action)} (run npm run kernel:install or kernel:remove)`);

let where = '--user';
let prefix = null;
let placements = 0;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--user' || a === '--sys-prefix' || a === '--prefix') {
    if (++placements > 1) fail(`give one of --user, --sys-prefix or --prefix DIR, not several (got ${argv.join(' ')})`);
    where = a;
    if (a === '--prefix') {
      prefix = argv[++i];
      if (!prefix || prefix.startsWith('--')) fail('--prefix needs a folder: --prefix DIR');
      prefix = path.resolve(prefix);
    }
  } else {
    fail(`unknown flag ${JSON.stringify(a)}: expected --user, --sys-prefix or --prefix DIR`);
  }
}

const jupyter = findJupyter();
if (!jupyter)
  fail(
    '`jupyter` was not found on PATH: install Jupyter first (npm start makes .venv-lab with JupyterLab; or python3 -m venv .venv-lab && .venv-lab/bin/pip install jupyterlab==4.6.4 plotly==7.1.0; or on Debian sudo apt-get install jupyter-notebook)',
    1,
  );
const flags = where === '--prefix' ? ['--prefix', prefix] : [where];

/** The kernels folder a flag means, as this Jupyter sees it. */
function kernelsDir() {
  if (where === '--prefix') return path.join(prefix, 'share', 'jupyter', 'kernels');
  if (where === '--user') {
    const r = spawnSync(jupyter.bin, ['--data-dir'], { encoding: 'utf8' });
    if (r.status !== 0) fail(`jupyter --data-dir failed: ${(r.stderr || '').trim()}`, 1);
    return path.join(r.stdout.trim(), 'kernels');
  }
  // --sys-prefix: the environment of the Python that runs this jupyter.
  const py = fs
    .readFileSync(jupyter.bin, 'utf8')
    .split('\n')[0]
    .replace(/^#!\s*/, '')
    .trim();
  const r = spawnSync(py, ['-c', 'import sys; print(sys.prefix)'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`could not ask ${py} for its sys.prefix: ${(r.stderr || '').trim()}`, 1);
  return path.join(r.stdout.trim(), 'share', 'jupyter', 'kernels');
}

if (action === 'install') {
  linkSelf();
  const src = writeKernelspec();
  const r = spawnSync(jupyter.bin, ['kernelspec', 'install', ...flags, '--name', KERNEL_NAME, src], {
    encoding: 'utf8',
  });
  if (r.status !== 0) fail(`jupyter kernelspec install failed:\n${(r.stderr || r.stdout).trim()}`, 1);
  const dest = path.join(kernelsDir(), KERNEL_NAME);
  console.log(`margin-lab kernel: installed "TypeScript (margin-lab)" as ${KERNEL_NAME} in ${dest} (${where})`);
  if (where === '--prefix')
    console.log(
      `Jupyter finds it with JUPYTER_PATH=${path.join(prefix, 'share', 'jupyter')} (or jupyter started from that prefix)`,
    );
} else {
  const dest = path.join(kernelsDir(), KERNEL_NAME);
  const spec = path.join(dest, 'kernel.json');
  if (!fs.existsSync(spec)) fail(`no ${KERNEL_NAME} kernel in ${path.dirname(dest)} (${where}): nothing to remove`, 1);
  let ours = false;
  try {
    const k = JSON.parse(fs.readFileSync(spec, 'utf8'));
    ours = k.display_name === 'TypeScript (margin-lab)' && (k.argv || []).some((a) => /tslab/.test(a));
  } catch (_) {
    /* unreadable: not ours to delete */
  }
  if (!ours) fail(`${dest} holds a kernel named ${KERNEL_NAME} that is not margin-lab's; it was left alone`, 1);
  fs.rmSync(dest, { recursive: true });
  console.log(`margin-lab kernel: removed ${dest}`);
}
