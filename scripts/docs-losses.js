#!/usr/bin/env node
// `npm run docs:losses`: writes the options table of docs/losses.md (between its
// `<!-- options:begin -->` and `<!-- options:end -->` lines) from the losses' specs, so the docs
// state exactly the ranges and defaults the code uses. A test checks the two agree.
const fs = require('fs');
const path = require('path');
const { ROOT } = require('./lib/project');

const file = path.join(ROOT, 'docs', 'losses.md');
const { lossOptionsMarkdown } = require(path.join(ROOT, 'dist', 'losses', 'registry.js'));
const text = fs.readFileSync(file, 'utf8');
const begin = '<!-- options:begin -->';
const end = '<!-- options:end -->';
const a = text.indexOf(begin);
const b = text.indexOf(end);
if (a < 0 || b < a) {
  console.error(`docs-losses: ${file} has no ${begin} … ${end} section`);
  process.exit(1);
}
const next = `${text.slice(0, a + begin.length)}\n${lossOptionsMarkdown()}\n${text.slice(b)}`;
if (next === text) console.log('docs/losses.md: the options table is up to date');
else {
  fs.writeFileSync(file, next);
  console.log('docs/losses.md: wrote the options table');
}
