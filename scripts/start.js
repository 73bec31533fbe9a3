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
    "margin-lab: `jupyter` was not found on PATH. Install JupyterLab in a virtual environment (python3 -m venv .venv && .venv/bin/pip install jupyterlab plotly, then put .venv/bin first on PATH; Debian's own python3 refuses pip, PEP 668) or, on Debian/Ubuntu, sudo apt-get install jupyter-notebook.",
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
// Jupyter refuses to start as root ("Running as root is not recommended"); in a container that is
// the normal case, so say so and pass --allow-root rather than dying.
if (typeof process.getuid === 'function' && process.getuid() === 0 && !args.includes('--allow-root')) {
  args.push('--allow-root');
  console.log('margin-lab: running as root (a container?), so passing --allow-root to Jupyter');
}
console.log(`margin-lab: starting jupyter ${app} ${version} with kernel "TypeScript (margin-lab)"`);
const child = spawn(jupyter.bin, args, { env, stdio: 'inherit', cwd: path.join(ROOT, 'notebooks') });
child.on('exit', (code) => process.exit(code ?? 0));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
