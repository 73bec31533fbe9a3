#!/usr/bin/env node
// Ensures node_modules/margin-lab links to this project, so notebooks, tests and the CLI import
// the library by its package name. `npm install <pkg>` prunes the link, so every entry point
// (build, start, notebook runner) re-creates it.
require('./lib/project').linkSelf();
