#!/usr/bin/env node
// Runs after `npm install` / `npm ci`:
//  1. links node_modules/margin-lab -> the project root, so notebooks (and tests) import the
//     library by its package name exactly as users' projects do;
//  2. writes a project-local Jupyter kernelspec for tslab under .jupyter/data/kernels, which
//     `npm start` and the notebook runner put on JUPYTER_PATH. The user's global Jupyter config
//     is never touched.
const { writeKernelspec, linkSelf } = require('./lib/project');

linkSelf();
const spec = writeKernelspec();
console.log(`margin-lab: kernelspec written to ${spec} (used by npm start / npm run notebooks)`);
