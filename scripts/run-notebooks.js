#!/usr/bin/env node
// `npm run notebooks [-- files... --html-dir DIR]`: executes notebooks in fresh margin-lab
// kernels through nbclient (scripts/nbrun.py). Needs Jupyter's nbclient for python3.
const { spawnSync } = require('child_process');
const path = require('path');
const { ROOT, findPython, jupyterEnv, writeKernelspec, linkSelf } = require('./lib/project');

const py = findPython('nbclient');
if (!py) {
  console.error(
    'margin-lab: no python3 with nbclient found. Install it: sudo apt-get install python3-nbclient jupyter-nbconvert python3-ipykernel  (or: pip install nbclient nbconvert ipykernel)',
  );
  process.exit(2);
}
linkSelf();
writeKernelspec(); // keeps the kernelspec in step with this checkout's absolute paths
const r = spawnSync(py, [path.join(__dirname, 'nbrun.py'), ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  // Every check throws here (CI, the site): student mode is for a person at the notebook.
  env: { ...jupyterEnv(), MARGIN_LAB_CHECKS: process.env.MARGIN_LAB_CHECKS ?? 'strict' },
});
process.exit(r.status === null ? 1 : r.status);
