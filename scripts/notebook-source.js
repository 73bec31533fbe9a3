#!/usr/bin/env node
// `npm run notebooks:build [-- --check] [SOURCE.ts.md ...]`: builds every notebook from its source
// (notebooks/src/NAME.ts.md → notebooks/NAME.ipynb, notebooks/src/solutions/ → notebooks/solutions/),
// or only the sources named. Notebooks that did not change are not written. `--check` writes
// nothing and exits 1 when a committed notebook differs from what its source builds (CI's test).
// `npm run notebooks:pull -- notebooks/NAME.ipynb [...]`: turns a notebook edited in Jupyter back
// into its source (outputs are dropped). A source with edits not yet committed to git is not
// replaced unless `--force` is given. Then `npm run notebooks:build` rebuilds the notebook without
// outputs, as it is committed. `--root DIR` works on the notebooks of another checkout.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { buildNotebook, toSource, parseSource } = require('./lib/notebook-source');
const { ROOT, printHeaderHelp } = require('./lib/project');

// `--root DIR` works on another checkout's notebooks (default: this one).
const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
let root = ROOT;
if (rootAt >= 0) {
  if (!argv[rootAt + 1] || argv[rootAt + 1].startsWith('--')) {
    console.error('notebook-source: --root needs a folder');
    process.exit(2);
  }
  root = path.resolve(argv[rootAt + 1]);
  argv.splice(rootAt, 2);
}
const NB = path.join(root, 'notebooks');
const SRC = path.join(NB, 'src');
const DIRS = [
  [SRC, NB],
  [path.join(SRC, 'solutions'), path.join(NB, 'solutions')],
];

function fail(msg, code = 2) {
  console.error(`notebook-source: ${msg}`);
  process.exit(code);
}

/** Every (source, notebook) pair. */
function allPairs() {
  return DIRS.flatMap(([s, n]) =>
    fs.existsSync(s)
      ? fs
          .readdirSync(s)
          .filter((f) => f.endsWith('.ts.md'))
          .sort()
          .map((f) => ({ src: path.join(s, f), nb: path.join(n, f.replace(/\.ts\.md$/, '.ipynb')) }))
      : [],
  );
}

function pairOfSource(file) {
  const abs = path.resolve(file);
  const p = allPairs().find((x) => x.src === abs);
  if (!p)
    fail(`${file} is not a notebook source (expected notebooks/src/NAME.ts.md or notebooks/src/solutions/NAME.ts.md)`);
  return p;
}

function pairOfNotebook(file) {
  const abs = path.resolve(file);
  for (const [s, n] of DIRS)
    if (path.dirname(abs) === n && abs.endsWith('.ipynb'))
      return { src: path.join(s, path.basename(abs).replace(/\.ipynb$/, '.ts.md')), nb: abs };
  fail(`${file} is not a course notebook (expected notebooks/NAME.ipynb or notebooks/solutions/NAME.ipynb)`);
}

const rel = (p) => path.relative(root, p);

function build(args) {
  const check = args.includes('--check');
  const files = args.filter((a) => a !== '--check');
  for (const a of files) if (a.startsWith('--')) fail(`unknown flag ${a} (build takes --check and source files)`);
  const pairs = files.length ? files.map(pairOfSource) : allPairs();
  const differ = [];
  for (const { src, nb } of pairs) {
    const want = buildNotebook(fs.readFileSync(src, 'utf8'), path.basename(nb, '.ipynb'), rel(src));
    const have = fs.existsSync(nb) ? fs.readFileSync(nb, 'utf8') : null;
    if (have === want) continue;
    differ.push(nb);
    if (!check) {
      fs.writeFileSync(nb, want);
      console.log(`wrote ${rel(nb)} from ${rel(src)}`);
    }
  }
  if (check && differ.length) {
    console.error(
      `notebook-source: ${differ.length} notebook(s) differ from their sources: ${differ.map(rel).join(', ')}; run npm run notebooks:build (or notebooks:pull for edits made in Jupyter)`,
    );
    process.exit(1);
  }
  if (!check) console.log(`${pairs.length} notebook(s) checked, ${differ.length} written`);
  else console.log(`${pairs.length} notebook(s) equal their sources`);
}

/** Whether `file` has changes git has not committed (false outside a git checkout or for a new file). */
function uncommitted(file) {
  const r = spawnSync('git', ['status', '--porcelain', '--', file], { cwd: root, encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '';
}

function pull(args) {
  const force = args.includes('--force');
  const files = args.filter((a) => a !== '--force');
  for (const a of files) if (a.startsWith('--')) fail(`unknown flag ${a} (pull takes --force and notebooks)`);
  if (!files.length) fail('pull: name the notebook(s) to pull, e.g. notebooks:pull -- notebooks/07-arcface.ipynb');
  for (const f of files) {
    const { src, nb } = pairOfNotebook(f);
    if (!fs.existsSync(nb)) fail(`${f}: no such notebook`);
    let parsed;
    try {
      parsed = JSON.parse(fs.readFileSync(nb, 'utf8'));
    } catch (e) {
      fail(`${f} is not valid JSON (${e.message})`, 1);
    }
    let text;
    try {
      text = toSource(parsed, rel(nb));
    } catch (e) {
      fail(e.message, 1);
    }
    const old = fs.existsSync(src) ? fs.readFileSync(src, 'utf8') : null;
    if (old !== null && JSON.stringify(parseSource(old, rel(src))) === JSON.stringify(parseSource(text, rel(nb)))) {
      console.log(`${rel(src)} already holds what ${rel(nb)} has`);
      continue;
    }
    if (old !== null && !force && uncommitted(src))
      fail(
        `${rel(src)} has changes not committed to git, which pulling ${rel(nb)} would replace; nothing was changed. Commit them, or pass --force to replace them.`,
        1,
      );
    fs.writeFileSync(src, text);
    console.log(`wrote ${rel(src)} from ${rel(nb)}; now npm run notebooks:build rebuilds the notebook without outputs`);
  }
}

const [cmd, ...rest] = argv;
if (!cmd || cmd === '--help' || cmd === '-h' || rest.includes('--help')) {
  printHeaderHelp(process.argv[1], 1, 10);
  process.exit(cmd ? 0 : 2);
}
if (cmd === 'build') build(rest);
else if (cmd === 'pull') pull(rest);
else fail(`expected build or pull, got ${JSON.stringify(cmd)}`);
