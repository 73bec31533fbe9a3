#!/usr/bin/env node
// `npm start`: opens the workbook in JupyterLab (or the classic Notebook when Lab is not
// installed) on notebooks/, with the project-local margin-lab TypeScript kernel on JUPYTER_PATH.
// Extra arguments go to Jupyter: `npm start -- --port 9999 --no-browser`.
const { spawnSync, spawn } = require('child_process');
const path = require('path');
const { ROOT, jupyterEnv, writeKernelspec, findJupyter, linkSelf } = require('./lib/project');

const jupyter = findJupyter();
if (!jupyter) {
  console.error(
    'margin-lab: `jupyter` was not found on PATH. Install JupyterLab (pip install jupyterlab) or, on Debian/Ubuntu, sudo apt-get install jupyter-notebook.',
  );
  process.exit(2);
}
linkSelf();
writeKernelspec();
const env = jupyterEnv();
const lab = spawnSync(jupyter.bin, ['lab', '--version'], { env, encoding: 'utf8' });
const app = lab.status === 0 ? 'lab' : 'notebook';
const version = (
  app === 'lab' ? lab : spawnSync(jupyter.bin, ['notebook', '--version'], { env, encoding: 'utf8' })
).stdout.trim();
const args = [app, `--notebook-dir=${path.join(ROOT, 'notebooks')}`, ...process.argv.slice(2)];
console.log(`margin-lab: starting jupyter ${app} ${version} with kernel "TypeScript (margin-lab)"`);
const child = spawn(jupyter.bin, args, { env, stdio: 'inherit', cwd: path.join(ROOT, 'notebooks') });
child.on('exit', (code) => process.exit(code ?? 0));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
