#!/usr/bin/env node
// `npm run course [-- --out DIR] [notebooks...]`: the course edition. Executes every notebook and
// every solution (full mode; MARGIN_LAB_QUICK=1 for a fast pass) and writes a static site that
// opens from the file system, offline:
//   DIR/index.html        the outline: each notebook's title and learning goals, with links
//   DIR/<notebook>.html   one page per notebook, with its outputs and figures
//   DIR/plotly.min.js     plotly.js, loaded by every page (pages no longer inline it)
//   DIR/mathjax/          MathJax for the LaTeX, copied from the system when it has one
// Default DIR: site/. The site is built in a sibling folder and moved in when complete; only the
// files an earlier build listed in DIR/.margin-lab-course are replaced, anything else stays.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const SITE_CSS = `<style id="margin-lab-site">
.jp-RenderedHTMLCommon table { table-layout: auto !important; }
.jp-RenderedMarkdown { overflow-x: auto; }
.MathJax_Display, .MJXc-display { overflow-x: auto; overflow-y: hidden; }
</style>`;
const { printHeaderHelp, ROOT, findPython, jupyterEnv, writeKernelspec, linkSelf } = require('./lib/project');

const MATHJAX_DIRS = ['/usr/share/javascript/mathjax', '/usr/share/mathjax'];
const MARKER = '.margin-lab-course';

function fail(msg) {
  console.error(`course: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { out: path.join(ROOT, 'site'), notebooks: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') {
      if (!argv[i + 1]) fail('--out needs a folder');
      o.out = path.resolve(argv[++i]);
      if (fs.existsSync(o.out) && !fs.statSync(o.out).isDirectory())
        fail(`--out ${o.out} is a file, not a folder: choose a folder for the site`);
    } else if (a === '--help' || a === '-h') {
      printHeaderHelp(process.argv[1], 1, 9);
      process.exit(0);
    } else if (a.startsWith('--')) fail(`unknown flag '${a}' (expected --out DIR, --help, or notebook files)`);
    else {
      if (!a.endsWith('.ipynb') || !fs.existsSync(a)) fail(`'${a}' is not a notebook file (.ipynb) that exists`);
      if (!fs.statSync(a).isFile()) fail(`'${a}' is a folder, not a notebook file`);
      try {
        const nb = JSON.parse(fs.readFileSync(a, 'utf8'));
        if (!nb || !Array.isArray(nb.cells)) throw new Error('no cells list');
      } catch (e) {
        fail(`'${a}' is not a Jupyter notebook (${e.message}): expected the JSON of an .ipynb file`);
      }
      o.notebooks.push(path.resolve(a));
    }
  }
  return o;
}

/** Title (first heading) and the learning-goal bullets of a notebook, from its source cells. */
function outline(file) {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  const md = nb.cells
    .filter((c) => c.cell_type === 'markdown')
    .map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source));
  const title = (md.join('\n').match(/^#\s+(.+)$/m) || [null, path.basename(file, '.ipynb')])[1];
  const goalsCell = md.find((t) => /learning goals/i.test(t)) || '';
  const goals = goalsCell
    .split('\n')
    .filter((l) => /^\s*- /.test(l))
    .map((l) => l.replace(/^\s*- /, '').trim());
  return { title, goals };
}

const escapeHtml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The top-level names an earlier build wrote into `out`, from its marker: a JSON list since the
 * builder keeps one; an older, plain-text marker owns only what that builder could write (the
 * shared scripts, the index and a page per notebook of the repository).
 */
function ownedBy(out) {
  const text = fs.readFileSync(path.join(out, MARKER), 'utf8');
  try {
    const m = JSON.parse(text);
    if (m && m.format === 'margin-lab-course-site' && Array.isArray(m.files)) return m.files.map(String);
  } catch {
    // the plain-text marker of an older build
  }
  const pages = ['notebooks', path.join('notebooks', 'solutions')].flatMap((d) =>
    fs
      .readdirSync(path.join(ROOT, d))
      .filter((f) => f.endsWith('.ipynb'))
      .map((f) => `${path.basename(f, '.ipynb')}.html`),
  );
  return ['plotly.min.js', 'mathjax', 'index.html', ...pages];
}

/**
 * Moves the finished site from `site` into `out`, replacing only what the builder owns: the
 * files the earlier build listed in its marker. Anything else in `out` (a user's notes, a file
 * written while the notebooks ran) stays; a new page that would replace such a file is refused
 * before anything moves.
 */
function install(site, out) {
  const fresh = fs.readdirSync(site);
  if (fs.existsSync(out)) {
    const present = fs.readdirSync(out);
    if (present.length > 0 && !present.includes(MARKER)) {
      fs.rmSync(site, { recursive: true, force: true });
      fail(`${out} is not an earlier course site any more (no ${MARKER}): nothing was replaced`);
    }
    const owned = new Set(present.includes(MARKER) ? ownedBy(out) : []);
    const clash = fresh.filter((f) => present.includes(f) && !owned.has(f));
    if (clash.length) {
      fs.rmSync(site, { recursive: true, force: true });
      fail(`${out} holds ${clash.join(', ')}, which no earlier build wrote: move them away; nothing was replaced`);
    }
    fs.rmSync(path.join(out, MARKER), { force: true });
    for (const f of owned)
      if (f !== MARKER && !f.includes('/') && f !== '..' && f !== '.')
        fs.rmSync(path.join(out, f), { recursive: true, force: true });
  } else fs.mkdirSync(out, { recursive: true });
  for (const f of fresh) fs.renameSync(path.join(site, f), path.join(out, f));
  fs.rmdirSync(site);
  fs.writeFileSync(
    path.join(out, MARKER),
    JSON.stringify(
      { format: 'margin-lab-course-site', note: 'written by npm run course: the files it owns', files: fresh },
      null,
      1,
    ) + '\n',
  );
  const kept = fs.readdirSync(out).filter((f) => f !== MARKER && !fresh.includes(f));
  if (kept.length) console.log(`course: kept what the builder did not write: ${kept.join(', ')}`);
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  const py = findPython('nbclient');
  if (!py) fail('no python3 with nbclient and nbconvert: apt-get install python3-nbclient jupyter-nbconvert');
  const dist = path.join(ROOT, 'dist', 'index.js');
  if (!fs.existsSync(dist)) fail(`${dist} is missing: run npm run build first (npm run course does)`);
  if (fs.existsSync(o.out) && fs.readdirSync(o.out).length > 0 && !fs.existsSync(path.join(o.out, MARKER)))
    fail(`${o.out} exists and is not an earlier course site (no ${MARKER}): choose another --out`);

  const notebooks = o.notebooks.length
    ? o.notebooks
    : [
        ...fs
          .readdirSync(path.join(ROOT, 'notebooks'))
          .filter((f) => f.endsWith('.ipynb'))
          .sort()
          .map((f) => path.join(ROOT, 'notebooks', f)),
        ...fs
          .readdirSync(path.join(ROOT, 'notebooks', 'solutions'))
          .filter((f) => f.endsWith('.ipynb'))
          .sort()
          .map((f) => path.join(ROOT, 'notebooks', 'solutions', f)),
      ];

  // 1. Execute and export (the notebook runner reports failing cells with their source).
  const raw = fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-course-'));
  linkSelf();
  writeKernelspec();
  console.log(
    `course: executing ${notebooks.length} notebooks (${process.env.MARGIN_LAB_QUICK === '1' ? 'quick mode' : 'full mode; MARGIN_LAB_QUICK=1 for a fast pass'})`,
  );
  const run = spawnSync(py, [path.join(__dirname, 'nbrun.py'), ...notebooks, '--html-dir', raw], {
    cwd: ROOT,
    stdio: 'inherit',
    // Every check throws here (CI, the site): student mode is for a person at the notebook.
    env: { ...jupyterEnv(), MARGIN_LAB_CHECKS: 'strict' },
  });
  if (run.status !== 0) fail('a notebook failed (see above); no site written');

  // 2. The site, built in a sibling folder and moved in when complete: shared plotly.js and
  // MathJax, pages rewritten to use them.
  // (o.out is absolute: parseArgs resolves --out, and the default is under ROOT.)
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const site = fs.mkdtempSync(path.join(path.dirname(o.out), `.${path.basename(o.out)}.building-`));
  const lib = require(dist);
  const bundle = lib.plotlyBundle();
  fs.writeFileSync(path.join(site, 'plotly.min.js'), bundle);
  const inlined = `<script type="text/javascript">${bundle.replace(/<\/script/gi, '<\\/script')}</script>`;
  const mathjax = MATHJAX_DIRS.find((d) => fs.existsSync(path.join(d, 'MathJax.js')));
  if (mathjax) {
    fs.cpSync(mathjax, path.join(site, 'mathjax'), {
      recursive: true,
      dereference: true,
      filter: (src) => !/[\\/](unpacked|test)$/.test(src),
    });
  } else console.warn('course: no MathJax on this system (apt-get install libjs-mathjax): formulas stay as LaTeX text');

  const pages = [];
  for (const nb of notebooks) {
    const name = path.basename(nb, '.ipynb');
    let html = fs.readFileSync(path.join(raw, `${name}.html`), 'utf8');
    const before = html.length;
    html = html.split(inlined).join('<script type="text/javascript" src="plotly.min.js"></script>');
    // Nothing from outside the site: no require.js (the figures do not use it), MathJax from the site.
    html = html.replace(/<script[^>]*src="[^"]*require(\.min)?\.js"[^>]*><\/script>/g, '');
    html = html.replace(/src="[^"]*MathJax\.js(\?[^"]*)?"/g, (_, q) =>
      mathjax ? `src="mathjax/MathJax.js${q || ''}"` : 'src=""',
    );
    if (!mathjax) html = html.replace(/<script[^>]*src=""[^>]*><\/script>/g, '');
    // nbconvert's theme lays tables out with `table-layout: fixed`, which crushes a column of
    // formulas into a narrow strip beside an empty gap: size columns by their content instead,
    // and let a wide table scroll rather than overflow the page.
    html = html.replace('</head>', `${SITE_CSS}</head>`);
    // The template turns on MathJax's automatic line breaks, which measure a table cell before the
    // table is laid out and break its formulas into a narrow strip beside an empty gap. Formulas
    // keep their natural width here; a long display formula scrolls (SITE_CSS).
    html = html.replace(/linebreaks:\s*\{\s*automatic:\s*true\s*\}/, 'linebreaks: { automatic: false }');
    fs.writeFileSync(path.join(site, `${name}.html`), html);
    pages.push({ name, solution: nb.includes(`${path.sep}solutions${path.sep}`), ...outline(nb) });
    console.log(`course: ${name}.html (${(html.length / 1e3).toFixed(0)} kB, was ${(before / 1e6).toFixed(1)} MB)`);
  }
  fs.rmSync(raw, { recursive: true, force: true });

  const item = (p) =>
    `<li><a href="${encodeURI(p.name)}.html">${escapeHtml(p.title)}</a>${
      p.goals.length ? `<ul class="goals">${p.goals.map((g) => `<li>${escapeHtml(g)}</li>`).join('')}</ul>` : ''
    }</li>`;
  const index = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>margin-lab: the course</title>
<style>body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
ul.goals{font-size:.92em;color:#444}li{margin:.3em 0}</style></head>
<body><h1>margin-lab: margin losses for open-set recognition</h1>
<p>The notebooks of the course, executed ${process.env.MARGIN_LAB_QUICK === '1' ? 'in quick mode' : 'in full mode'} on
${escapeHtml(new Date().toISOString().slice(0, 10))}. Each page shows the derivations, the code, and what it printed.</p>
<h2>Notebooks</h2><ol>${pages
    .filter((p) => !p.solution)
    .map(item)
    .join('\n')}</ol>
<h2>Solutions to the exercises</h2><ul>${pages
    .filter((p) => p.solution)
    .map(item)
    .join('\n')}</ul></body></html>
`;
  fs.writeFileSync(path.join(site, 'index.html'), index);
  install(site, o.out);
  console.log(`course: wrote ${path.join(o.out, 'index.html')} and ${pages.length} pages`);
}

main();
