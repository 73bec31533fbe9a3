/**
 * The notebook runner and the committed notebooks: no outputs in git, failing cells reported
 * with their source and real error, and an exported notebook's Plotly figure drawing in Chromium.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ROOT, runNotebooks } from './helpers/paths';
import { openBrowser } from './helpers/browser';

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
}

/** The course's notebooks and the exercise solutions (notebooks/solutions), which CI runs too. */
function notebookFiles(): string[] {
  const dirs = [path.join(ROOT, 'notebooks'), path.join(ROOT, 'notebooks', 'solutions')];
  return dirs.flatMap((d) =>
    fs.existsSync(d)
      ? fs
          .readdirSync(d)
          .filter((f) => f.endsWith('.ipynb'))
          .map((f) => path.join(d, f))
      : [],
  );
}

function writeNotebook(file: string, sources: string[]): void {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'margin-lab-ts', display_name: 'TypeScript (margin-lab)', language: 'typescript' },
    },
    cells: sources.map((s, i) => ({
      id: `c${i}`,
      cell_type: 'code',
      source: s,
      metadata: {},
      outputs: [],
      execution_count: null,
    })),
  };
  fs.writeFileSync(file, JSON.stringify(nb));
}

test('committed notebooks carry no outputs and use the margin-lab kernel', () => {
  const files = notebookFiles();
  assert.ok(files.length >= 1);
  for (const f of files) {
    const nb = JSON.parse(fs.readFileSync(f, 'utf8')) as {
      cells: Cell[];
      metadata: { kernelspec?: { name?: string } };
    };
    assert.equal(nb.metadata.kernelspec?.name, 'margin-lab-ts', `${f}: kernelspec`);
    nb.cells.forEach((c, i) => {
      if (c.cell_type !== 'code') return;
      assert.deepEqual(c.outputs, [], `${path.basename(f)} cell ${i} has outputs: commit it cleared`);
      assert.equal(c.execution_count, null, `${path.basename(f)} cell ${i} has an execution count`);
    });
  }
});

const broken: Array<{ name: string; cells: string[]; source: RegExp; error: RegExp }> = [
  {
    name: 'type error',
    cells: ['const ok = 1;', 'const n: number = "not a number";'],
    source: /const n: number = "not a number";/,
    error: /Type 'string' is not assignable to type 'number'/,
  },
  {
    name: 'throw',
    cells: ['function explode(): never { throw new Error("boom from a cell"); }\nexplode();'],
    source: /explode\(\);/,
    error: /boom from a cell/,
  },
  {
    name: 'unawaited rejection',
    cells: ['Promise.reject(new Error("rejected without await"));\nconsole.log("cell finished");', 'const later = 2;'],
    source: /injected by the margin-lab notebook runner|Promise\.reject/,
    error: /rejected without await/,
  },
  {
    name: 'throw in a callback',
    cells: ['setTimeout(() => { throw new Error("thrown in a timer callback"); }, 10);'],
    source: /injected by the margin-lab notebook runner|setTimeout/,
    error: /thrown in a timer callback/,
  },
];

test('a broken notebook cell fails the runner with the cell source and the real error', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-broken-'));
  const files = broken.map((b, i) => {
    const f = path.join(dir, `broken-${i}.ipynb`);
    writeNotebook(f, b.cells);
    return f;
  });
  const r = runNotebooks(files);
  const err = r.stderr;
  assert.equal(r.status, 1, `runner exit status ${r.status}\n${r.stdout}\n${err}`);
  assert.match(r.stdout, /notebooks: 0 passed, 4 failed/);
  const sections = err.split('=== FAILED: ').slice(1);
  assert.equal(sections.length, 4, err);
  broken.forEach((b, i) => {
    const s = sections.find((x) => x.startsWith(files[i]));
    assert.ok(s, `no report for ${b.name}`);
    assert.match(s!, b.source, `${b.name}: cell source missing\n${s}`);
    assert.match(s!, b.error, `${b.name}: real error missing\n${s}`);
  });
});

test('a burst of live-display updates does not crash the kernel, and the last one shows', () => {
  // tslab sends on one zeromq socket without waiting; two sends in one tick used to kill the
  // kernel ("Socket is busy writing") during long training runs in notebooks.
  fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(ROOT, 'build', 'nb-'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-busy-'));
  const file = path.join(dir, 'burst.ipynb');
  writeNotebook(file, [
    "import { LiveDisplay } from 'margin-lab';\nconst d = new LiveDisplay();\nfor (let i = 0; i < 3000; i++) d.set({ 'text/plain': 'update ' + i });\nawait new Promise((r) => setImmediate(r));",
  ]);
  const r = runNotebooks([file, '--executed-dir', out]);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const nb = JSON.parse(fs.readFileSync(path.join(out, 'burst.ipynb'), 'utf8')) as {
    cells: Array<{ outputs: Array<{ data?: Record<string, string | string[]> }> }>;
  };
  // nbformat may store a text as a list of lines.
  const shown = nb.cells[0].outputs
    .map((o) => o.data?.['text/plain'])
    .filter(Boolean)
    .map((t) => ([] as string[]).concat(t!).join(''));
  assert.deepEqual(shown, ['update 2999']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('every notebook runs clean, and its exported HTML draws the Plotly figure in Chromium', async (t) => {
  const htmlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-html-'));
  const r = runNotebooks(['--html-dir', htmlDir]);
  assert.equal(r.status, 0, `notebooks failed:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, new RegExp(`notebooks: ${notebookFiles().length} passed, 0 failed`));

  const { browser, page, problems } = await openBrowser();
  t.after(() => browser.close());
  // nbconvert's template links require.js / MathJax from CDNs; there is no network here, so
  // those are answered empty (as an offline reader's browser would fail them) — our figure must
  // not depend on them.
  await page.route(/^https?:/, (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: '' }));
  await page.goto('file://' + path.join(htmlDir, '00-setup.html'));
  await page.waitForSelector('.margin-lab-figure .main-svg', { timeout: 30_000 });
  const traces = await page.$$eval('.margin-lab-figure .scatterlayer .trace', (els) => els.length);
  assert.equal(traces, 2, 'the setup notebook figure should draw 2 traces');
  const title = await page.$eval('.margin-lab-figure .gtitle', (el) => el.textContent);
  assert.equal(title, 'Unit circle');
  assert.deepEqual(problems, []);

  // The geometry gallery: every figure draws (3-D ones on a WebGL canvas) ...
  await page.goto('file://' + path.join(htmlDir, 'appendix-geometry-gallery.html'));
  await page.waitForFunction(
    () => {
      const figs = Array.from(document.querySelectorAll('.margin-lab-figure'));
      return figs.length > 0 && figs.every((f) => f.querySelector('.main-svg'));
    },
    undefined,
    { timeout: 60_000 },
  );
  const figs = await page.$$eval('.margin-lab-figure', (els) =>
    els.map((e) => {
      const gd = e as unknown as { data: Array<{ type?: string }>; layout: { title?: { text?: string } } };
      const threeD = gd.data.some((t) => t.type === 'scatter3d');
      return {
        title: gd.layout.title?.text ?? '',
        traces: gd.data.length,
        drawn: threeD ? !!e.querySelector('canvas') : e.querySelectorAll('.trace, .hm, .imagelayer image').length > 0,
      };
    }),
  );
  assert.ok(figs.length >= 13, `gallery shows ${figs.length} figures`);
  for (const f of figs) assert.ok(f.drawn && f.traces > 0, `figure "${f.title}" did not draw`);
  for (const want of [
    'unit circle',
    'sphere',
    'Decision boundaries in the (cos θ1, cos θ2) plane',
    'Decision boundaries in the (θ1, θ2) plane',
    'Target logit',
    'Margin explorer',
    'ROC',
    'confusion matrix',
  ]) {
    assert.ok(
      figs.some((f) => f.title.toLowerCase().includes(want.toLowerCase())),
      `no figure titled like "${want}"`,
    );
  }
  // ... and the margin explorer's slider moves the boundary, in the page alone (no kernel).
  const explorer = await page.$$('.margin-lab-figure');
  let target: import('playwright-core').ElementHandle | null = null;
  for (const el of explorer)
    if (await el.evaluate((e) => !!(e as unknown as { layout: { sliders?: unknown[] } }).layout.sliders)) target = el;
  assert.ok(target, 'no figure with a slider');
  const boundary = () =>
    target!.evaluate((e) => JSON.stringify((e as unknown as { data: Array<{ y: number[] }> }).data[1].y));
  const before = await boundary();
  const rail = await target!.$('.slider-rail-rect');
  await rail!.scrollIntoViewIfNeeded();
  const box = await rail!.boundingBox();
  await page.mouse.click(box!.x + 3, box!.y + box!.height / 2);
  await page.waitForTimeout(300);
  const after = await boundary();
  assert.notEqual(after, before, 'moving the slider did not change the boundary');
  assert.deepEqual(problems, []);
});

const notebookSource = require(path.join(ROOT, 'scripts', 'lib', 'notebook-source.js')) as {
  parseSource(text: string, file?: string): Array<{ kind: string; text: string }>;
  toSource(nb: unknown, file?: string): string;
};
const sourceTool = (args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'notebook-source.js'), ...args], { encoding: 'utf8' });

test('every committed notebook is exactly what its source in notebooks/src builds (npm run notebooks:build -- --check), and back', () => {
  const check = sourceTool(['build', '--check']);
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, /^(\d+) notebook\(s\) equal their sources/);
  assert.ok(Number(/^(\d+)/.exec(check.stdout)![1]) >= 20);
  // And no notebook without a source; each notebook read back gives its source's cells.
  for (const nb of notebookFiles()) {
    const dir = path.dirname(nb) === path.join(ROOT, 'notebooks') ? 'src' : path.join('src', 'solutions');
    const src = path.join(ROOT, 'notebooks', dir, path.basename(nb).replace(/\.ipynb$/, '.ts.md'));
    assert.ok(fs.existsSync(src), `${path.relative(ROOT, nb)} has no source ${path.relative(ROOT, src)}`);
    const back = notebookSource.toSource(JSON.parse(fs.readFileSync(nb, 'utf8')));
    assert.deepEqual(notebookSource.parseSource(back), notebookSource.parseSource(fs.readFileSync(src, 'utf8')), nb);
  }
});

test('npm run notebooks:pull brings an edit made in Jupyter back into the source (outputs dropped), and keeps uncommitted source edits unless --force', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-nbsrc-'));
  fs.cpSync(
    path.join(ROOT, 'notebooks', 'src', '00-setup.ts.md'),
    path.join(root, 'notebooks', 'src', '00-setup.ts.md'),
  );
  const git = (...a: string[]) =>
    spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: root, encoding: 'utf8' });
  git('init', '-q');
  const built = sourceTool(['build', '--root', root]);
  assert.equal(built.status, 0, built.stderr);
  git('add', '-A');
  git('commit', '-qm', 'start');
  // What Jupyter saves after an edit and a run: a changed cell, an added one, outputs and counts.
  const file = path.join(root, 'notebooks', '00-setup.ipynb');
  const nb = JSON.parse(fs.readFileSync(file, 'utf8'));
  nb.cells[1].source = ['Edited in JupyterLab.'];
  nb.cells.push({
    cell_type: 'code',
    execution_count: 7,
    id: 'x',
    metadata: {},
    outputs: [{ output_type: 'stream', name: 'stdout', text: ['42\n'] }],
    source: ['console.log(42);'],
  });
  fs.writeFileSync(file, JSON.stringify(nb));
  assert.equal(sourceTool(['build', '--check', '--root', root]).status, 1, '--check missed the edit');
  const pulled = sourceTool(['pull', file, '--root', root]);
  assert.equal(pulled.status, 0, pulled.stderr);
  const src = fs.readFileSync(path.join(root, 'notebooks', 'src', '00-setup.ts.md'), 'utf8');
  assert.match(src, /%% md\nEdited in JupyterLab\.\n/);
  assert.match(src, /%% ts\nconsole\.log\(42\);\n$/);
  assert.ok(
    !src.includes('"outputs"') && !/\b42\n\n/.test(src.replace('console.log(42);', '')),
    'outputs reached the source',
  );
  // Rebuilt, the notebook has the edit and no outputs.
  assert.equal(sourceTool(['build', '--root', root]).status, 0);
  const rebuilt = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(rebuilt.cells.at(-1).outputs.length, 0);
  assert.equal(rebuilt.cells.at(-1).execution_count, null);
  // An uncommitted edit to the source is not replaced without --force.
  fs.appendFileSync(path.join(root, 'notebooks', 'src', '00-setup.ts.md'), '\n%% md\nMy own note.\n');
  nb.cells[1].source = ['Edited again.'];
  fs.writeFileSync(file, JSON.stringify(nb));
  const refused = sourceTool(['pull', file, '--root', root]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /has changes not committed to git, which pulling .* would replace; nothing was changed/);
  assert.match(fs.readFileSync(path.join(root, 'notebooks', 'src', '00-setup.ts.md'), 'utf8'), /My own note\./);
  assert.equal(sourceTool(['pull', file, '--force', '--root', root]).status, 0);
  assert.match(fs.readFileSync(path.join(root, 'notebooks', 'src', '00-setup.ts.md'), 'utf8'), /Edited again\./);
  // Bad input is named.
  assert.match(sourceTool(['pull', path.join(root, 'x.ipynb'), '--root', root]).stderr, /is not a course notebook/);
  assert.match(sourceTool(['frobnicate']).stderr, /expected build or pull, got "frobnicate"/);
  fs.rmSync(root, { recursive: true });
});

test('docs/errata.md: every item names the notebooks that cover it, and each of them cites the item', () => {
  const text = fs.readFileSync(path.join(ROOT, 'docs', 'errata.md'), 'utf8');
  const notebookText = (nn: string): string => {
    const f = fs.readdirSync(path.join(ROOT, 'notebooks')).find((x) => x.startsWith(`${nn}-`) && x.endsWith('.ipynb'));
    assert.ok(f, `docs/errata.md cites notebook ${nn}, which does not exist`);
    const nb = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', f), 'utf8')) as { cells: Cell[] };
    return nb.cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source)).join('\n');
  };
  const cited = (item: string): string[] =>
    [...item.matchAll(/Notebooks? ((?:\d\d)(?:(?:, | and )\d\d)*)/g)].flatMap((m) => m[1].split(/, | and /));
  // The seed article's numbered items: each cited notebook says "errata.md`, item N".
  const seed = text.split('## The seed article')[1].split('\n## ')[0];
  const items = seed.split(/\n(?=\d+\. )/).filter((x) => /^\d+\. /.test(x));
  assert.ok(items.length >= 6, `expected the seed article's items, found ${items.length}`);
  for (const item of items) {
    const n = Number(/^(\d+)\./.exec(item)![1]);
    const books = cited(item);
    assert.ok(books.length > 0, `errata item ${n} names no notebook`);
    for (const nn of books)
      assert.match(
        notebookText(nn),
        new RegExp(`errata\\.md\`, item ${n}\\b`),
        `notebook ${nn} does not cite errata item ${n}`,
      );
  }
  // The papers-and-code items: each cited notebook points to docs/errata.md.
  const papers = text.split('## Papers and their code')[1];
  const bullets = papers.split(/\n(?=- \*\*)/).filter((x) => x.startsWith('- **'));
  assert.ok(bullets.length >= 4);
  for (const b of bullets) {
    const title = /^- \*\*(.+?)\*\*/.exec(b)![1];
    const books = cited(b);
    assert.ok(books.length > 0, `errata "${title}" names no notebook`);
    for (const nn of books)
      assert.match(notebookText(nn), /errata\.md/, `notebook ${nn} does not point to docs/errata.md (${title})`);
  }
});

test('npm start: as root it passes --allow-root to Jupyter (which otherwise refuses to start), and says so', (t) => {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    t.skip('not running as root here');
    return;
  }
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-fake-jupyter-'));
  fs.writeFileSync(
    path.join(bin, 'jupyter'),
    '#!/bin/sh\nif [ "$2" = "--version" ]; then echo 4.6.4; exit 0; fi\necho "ARGS: $*"\n',
    { mode: 0o755 },
  );
  // MARGIN_LAB_JUPYTER: the fake, not the project's .venv-lab (CI has one).
  const fakeEnv = {
    ...process.env,
    PATH: `${bin}${path.delimiter}${process.env.PATH}`,
    MARGIN_LAB_JUPYTER: path.join(bin, 'jupyter'),
  };
  const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'start.js'), '--no-browser'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: fakeEnv,
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /running as root \(a container\?\), so passing --allow-root to Jupyter/);
  assert.match(r.stdout, /ARGS: lab --notebook-dir=.*notebooks --no-browser --allow-root/);
  const given = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'start.js'), '--allow-root'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: fakeEnv,
    timeout: 60_000,
  });
  assert.equal((given.stdout.match(/--allow-root/g) ?? []).length, 1, 'passed twice');
  fs.rmSync(bin, { recursive: true });
});

test("npm run doctor says whether JupyterLab renders figures with plotly's labextension or the HTML fallback", () => {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-fake-lab-'));
  const fake = (ext: string) =>
    fs.writeFileSync(
      path.join(bin, 'jupyter'),
      `#!/bin/sh\nif [ "$2" = "--version" ] || [ "$1" = "--version" ]; then echo 4.6.4; exit 0; fi\nif [ "$1" = "labextension" ]; then echo "${ext}"; exit 0; fi\necho "ARGS: $*"\n`,
      { mode: 0o755 },
    );
  const doctor = () =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'doctor.js')], {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        MARGIN_LAB_BACKEND: 'cpu',
        // The fake, not the project's .venv-lab (CI has one).
        MARGIN_LAB_JUPYTER: path.join(bin, 'jupyter'),
      },
      timeout: 120_000,
    }).stdout;
  fake('        jupyterlab-plotly v7.1.0 enabled OK');
  assert.match(doctor(), /plotly in Lab\s+jupyterlab-plotly v7\.1\.0 enabled OK \(Lab's native Plotly renderer\)/);
  fake('JupyterLab v4.6.4');
  assert.match(
    doctor(),
    /plotly in Lab\s+jupyterlab-plotly not installed: figures render through the bundled HTML fallback/,
  );
  // Lab's own colour codes (as `jupyter labextension list` prints them) never reach the report.
  fake('        jupyterlab-plotly v7.1.0 \\033[32menabled\\033[0m \\033[32mOK\\033[0m');
  const coloured = doctor();
  assert.ok(!coloured.includes(String.fromCharCode(27)), 'raw colour codes in the report');
  assert.match(coloured, /plotly in Lab\s+jupyterlab-plotly v7\.1\.0 enabled OK/);
  // A Jupyter without Lab: the line says what that means and how to get Lab.
  fs.writeFileSync(
    path.join(bin, 'jupyter'),
    `#!/bin/sh\nif [ "$1" = "lab" ]; then echo "jupyter: 'lab' is not a Jupyter command" >&2; exit 1; fi\nif [ "$2" = "--version" ]; then echo 6.4.12; exit 0; fi\necho "ARGS: $*"\n`,
    { mode: 0o755 },
  );
  assert.match(
    doctor(),
    /jupyterlab\s+not installed: npm start makes \.venv-lab with it \(python3 -m venv \.venv-lab && \.venv-lab\/bin\/pip install jupyterlab==4\.6\.4 plotly==7\.1\.0\), or opens the classic Notebook/,
  );
  fs.rmSync(bin, { recursive: true });
});

test('the kernelspec carries a logo: Jupyter lists logo-32x32.png and logo-64x64.png as its resources', () => {
  const project = require(path.join(ROOT, 'scripts', 'lib', 'project.js')) as {
    writeKernelspec(): string;
    jupyterEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  };
  const dir = project.writeKernelspec();
  const r = spawnSync('jupyter', ['kernelspec', 'list', '--json'], { env: project.jupyterEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const spec = (JSON.parse(r.stdout) as { kernelspecs: Record<string, { resource_dir: string; spec: unknown }> })
    .kernelspecs['margin-lab-ts'];
  assert.ok(spec, 'margin-lab-ts is not listed');
  assert.equal(fs.realpathSync(spec.resource_dir), fs.realpathSync(dir));
  for (const [f, size] of [
    ['logo-32x32.png', 32],
    ['logo-64x64.png', 64],
  ] as const) {
    const png = fs.readFileSync(path.join(dir, f));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${f} is not a PNG`);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [size, size], `${f}: width × height`);
  }
});

test('npm run kernel:install registers the kernel where a Jupyter started elsewhere finds it (--prefix, --user), and kernel:remove takes only its own kernel away', () => {
  const kernel = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'kernel.js'), ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      env,
    });
  // Jupyter without the project's JUPYTER_PATH: what `jupyter lab` started in another folder sees.
  const { JUPYTER_PATH: _jp, JUPYTER_DATA_DIR: _jd, ...plain } = process.env;
  const list = (env: NodeJS.ProcessEnv) => {
    const r = spawnSync('jupyter', ['kernelspec', 'list', '--json'], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { kernelspecs: Record<string, { resource_dir: string; spec: { argv: string[] } }> })
      .kernelspecs;
  };
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-kprefix-'));
  const withPrefix = { ...plain, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') };
  assert.equal(list(withPrefix)['margin-lab-ts'], undefined, 'the kernel is already visible before installing');
  const inst = kernel(['install', '--prefix', prefix], plain);
  assert.equal(inst.status, 0, inst.stderr);
  const found = list(withPrefix)['margin-lab-ts'];
  assert.ok(found, 'Jupyter does not list the installed kernel');
  assert.equal(found.resource_dir, path.join(prefix, 'share', 'jupyter', 'kernels', 'margin-lab-ts'));
  assert.ok(found.spec.argv.some((a) => a === path.join(ROOT, 'node_modules', 'tslab', 'bin', 'tslab')));
  assert.ok(fs.existsSync(path.join(found.resource_dir, 'logo-64x64.png')));
  // --user, into a scratch home.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-khome-'));
  const userEnv = { ...plain, HOME: home };
  assert.equal(kernel(['install'], userEnv).status, 0);
  assert.ok(list(userEnv)['margin-lab-ts']?.resource_dir.startsWith(home), 'the --user install is not in the home');
  assert.equal(kernel(['remove', '--user'], userEnv).status, 0);
  assert.equal(list(userEnv)['margin-lab-ts'], undefined);
  // Removing: ours goes; a second remove says there is nothing; someone else's kernel of that name stays.
  const rm = kernel(['remove', '--prefix', prefix], plain);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal(list(withPrefix)['margin-lab-ts'], undefined);
  const again = kernel(['remove', '--prefix', prefix], plain);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /no margin-lab-ts kernel in .* \(--prefix\): nothing to remove/);
  const other = path.join(prefix, 'share', 'jupyter', 'kernels', 'margin-lab-ts');
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(path.join(other, 'kernel.json'), JSON.stringify({ argv: ['python3'], display_name: 'Other' }));
  const foreign = kernel(['remove', '--prefix', prefix], plain);
  assert.equal(foreign.status, 1);
  assert.match(foreign.stderr, /is not margin-lab's; it was left alone/);
  assert.ok(fs.existsSync(path.join(other, 'kernel.json')));
  // Bad flags are named.
  assert.match(
    kernel(['install', '--user', '--prefix', prefix]).stderr,
    /give one of --user, --sys-prefix or --prefix DIR, not several/,
  );
  assert.match(
    kernel(['install', '--global']).stderr,
    /unknown flag "--global": expected --user, --sys-prefix or --prefix DIR/,
  );
  assert.match(kernel(['install', '--prefix']).stderr, /--prefix needs a folder/);
  fs.rmSync(prefix, { recursive: true });
  fs.rmSync(home, { recursive: true });
});

test('npm start: finds JupyterLab in .venv-lab, .venv or on PATH; without one it makes .venv-lab with the pinned versions, and only when that fails opens the classic Notebook, saying why and how to get Lab', () => {
  // A project of its own (start.js and its lib, tslab, notebooks/) and a PATH with only fakes.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-start-'));
  fs.mkdirSync(path.join(root, 'scripts', 'lib'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'scripts', 'start.js'), path.join(root, 'scripts', 'start.js'));
  for (const f of fs.readdirSync(path.join(ROOT, 'scripts', 'lib')))
    fs.cpSync(path.join(ROOT, 'scripts', 'lib', f), path.join(root, 'scripts', 'lib', f), { recursive: true });
  fs.mkdirSync(path.join(root, 'node_modules'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'tslab'), path.join(root, 'node_modules', 'tslab'));
  fs.mkdirSync(path.join(root, 'notebooks'));
  const bin = path.join(root, 'fakebin');
  fs.mkdirSync(bin);
  // The shell and the few tools the fakes use; no python3 or jupyter of the machine's.
  for (const tool of ['sh', 'mkdir', 'chmod', 'cat', 'dirname'])
    fs.symlinkSync(
      spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim(),
      path.join(bin, tool),
    );
  const script = (file: string, body: string) => fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  // A jupyter with Lab 4.6.4 that says how it was started, and one with only the Notebook.
  const labJupyter = `if [ "$1" = lab ] && [ "$2" = --version ]; then echo 4.6.4; exit 0; fi\necho "STARTED $*"`;
  const nbJupyter = `if [ "$1" = lab ]; then echo "no lab" >&2; exit 1; fi\nif [ "$2" = --version ]; then echo 6.4.12; exit 0; fi\necho "STARTED $*"`;
  // python3 -m venv DIR: a venv whose pip either installs a Lab jupyter or fails as offline pip does.
  const python = (pipWorks: boolean) =>
    script(
      path.join(bin, 'python3'),
      `[ "$1" = -m ] && [ "$2" = venv ] || exit 3\nmkdir -p "$3/bin"\ncat > "$3/bin/pip" <<'PIP'\n#!/bin/sh\n${
        pipWorks
          ? `echo "$@" > "$(dirname "$0")/pip-args"\ncat > "$(dirname "$0")/jupyter" <<'J'\n#!/bin/sh\n${labJupyter}\nJ\nchmod +x "$(dirname "$0")/jupyter"`
          : 'echo "ERROR: Could not find a version that satisfies the requirement jupyterlab==4.6.4" >&2\nexit 1'
      }\nPIP\nchmod +x "$3/bin/pip"`,
    );
  const start = () =>
    spawnSync(process.execPath, [path.join(root, 'scripts', 'start.js'), '--no-browser'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: bin, MARGIN_LAB_VENV_PYTHON: path.join(bin, 'python3') },
    });
  const venv = path.join(root, '.venv-lab');

  // No Jupyter anywhere, the index reachable: .venv-lab is made with the pins, and Lab starts from it.
  python(true);
  const made = start();
  assert.equal(made.status, 0, made.stderr);
  assert.match(
    made.stdout,
    /no JupyterLab found \(in \.venv-lab, \.venv or on PATH\); installing jupyterlab==4\.6\.4 and plotly==7\.1\.0 into \.venv-lab/,
  );
  assert.match(
    fs.readFileSync(path.join(venv, 'bin', 'pip-args'), 'utf8'),
    /install .*jupyterlab==4\.6\.4 plotly==7\.1\.0/,
  );
  assert.match(made.stdout, /starting jupyter lab 4\.6\.4 \(.*\.venv-lab\/bin\/jupyter\)/);
  assert.match(made.stdout, /STARTED lab --notebook-dir=.*notebooks --no-browser/);
  // Next time it is found, not installed again.
  const again = start();
  assert.doesNotMatch(again.stdout, /installing/);
  assert.match(again.stdout, /starting jupyter lab 4\.6\.4/);

  // The index unreachable, a classic Notebook on PATH: the Notebook, with the reason and the fix.
  fs.rmSync(venv, { recursive: true });
  python(false);
  script(path.join(bin, 'jupyter'), nbJupyter);
  const offline = start();
  assert.equal(offline.status, 0, offline.stderr);
  assert.match(
    offline.stdout,
    /JupyterLab could not be installed: pip could not install them \(ERROR: Could not find a version .*\): is the package index reachable\?; opening the classic Notebook instead\. For Lab: python3 -m venv \.venv-lab && \.venv-lab\/bin\/pip install jupyterlab==4\.6\.4 plotly==7\.1\.0/,
  );
  assert.match(offline.stdout, /STARTED notebook --notebook-dir=/);
  assert.ok(!fs.existsSync(venv), 'a venv without Lab is not left behind');

  // A .venv with Lab (a user's own) is used as it is.
  fs.mkdirSync(path.join(root, '.venv', 'bin'), { recursive: true });
  script(path.join(root, '.venv', 'bin', 'jupyter'), labJupyter);
  const own = start();
  assert.match(own.stdout, /starting jupyter lab 4\.6\.4 \(.*\/\.venv\/bin\/jupyter\)/);
  assert.doesNotMatch(own.stdout, /installing/);
  fs.rmSync(root, { recursive: true });
});
