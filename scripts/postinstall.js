#!/usr/bin/env node
// Runs after `npm install` / `npm ci`:
//  1. links node_modules/margin-lab -> the project root, so notebooks (and tests) import the
//     library by its package name exactly as users' projects do;
//  2. writes a project-local Jupyter kernelspec for tslab under .jupyter/data/kernels, which
//     `npm start` and the notebook runner put on JUPYTER_PATH. The user's global Jupyter config
//     is never touched.
const path = require('path');
const { ROOT, writeKernelspec, linkSelf } = require('./lib/project');

// Installed as a dependency of another project (node_modules/margin-lab): the project imports
// us by name already, and Jupyter kernels belong to that project; nothing to set up here.
if (
  path.basename(path.dirname(ROOT)) === 'node_modules' ||
  path.basename(path.dirname(path.dirname(ROOT))) === 'node_modules'
) {
  console.log(
    'margin-lab: installed as a dependency (no kernelspec written; the workbook kernel is set up by npm install in a margin-lab checkout)',
  );
  process.exit(0);
}

linkSelf();
const spec = writeKernelspec();
console.log(`margin-lab: kernelspec written to ${spec} (used by npm start / npm run notebooks)`);
