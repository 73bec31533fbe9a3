/**
 * JupyterLab, in a real browser: the server starts on the project's kernel, 00-setup and 07-arcface
 * (which draws a 3-D sphere) run every cell in quick mode, and the page shows what a student sees:
 * the margin-lab kernel, Plotly figures drawn by JupyterLab's Plotly MIME renderer, and formulas
 * typeset by MathJax. A second run disables plotly's labextension and checks that 00-setup's
 * figures draw through show()'s HTML fallback instead. The notebooks run from copies in build/,
 * so the committed ones keep no outputs.
 *
 * JupyterLab comes from pip in a venv (Debian ships only Notebook 6): `.ci/run` makes `.venv-lab`.
 * Without it the test is skipped with how to get it, unless MARGIN_LAB_JUPYTERLAB_REQUIRED=1 (CI).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync, ChildProcess } from 'child_process';
import { ROOT } from './helpers/paths';
import { openBrowser } from './helpers/browser';

const project = require(path.join(ROOT, 'scripts', 'lib', 'project.js')) as {
  writeKernelspec(): string;
  jupyterEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
};

function findLab(): { bin: string } | { why: string } {
  const candidates = [process.env.MARGIN_LAB_JUPYTERLAB, path.join(ROOT, '.venv-lab', 'bin', 'jupyter')].filter(
    (c): c is string => !!c,
  );
  for (const bin of candidates) {
    const r = spawnSync(bin, ['lab', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return { bin };
  }
  return {
    why: `no JupyterLab (tried ${candidates.join(', ')}): python3 -m venv .venv-lab && .venv-lab/bin/pip install jupyterlab plotly`,
  };
}

/** JupyterLab, or null after skipping the test (an error where CI requires Lab). */
function labOrSkip(t: { skip(msg: string): void }): { bin: string } | null {
  const lab = findLab();
  if (!('why' in lab)) return lab;
  if (process.env.MARGIN_LAB_JUPYTERLAB_REQUIRED === '1')
    throw new Error(`MARGIN_LAB_JUPYTERLAB_REQUIRED=1, but ${lab.why}`);
  t.skip(lab.why);
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitForServer(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 120_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`jupyter lab exited with ${child.exitCode}:\n${log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`jupyter lab did not answer ${url} within 120 s:\n${log()}`);
}

interface LabRun {
  books: string[];
  /** false: plotly's labextension is disabled (page config), so figures must draw through show()'s HTML. */
  plotlyExtension: boolean;
}

async function runInLab(t: { skip(msg: string): void; after(fn: () => Promise<void>): void }, opts: LabRun) {
  const lab = labOrSkip(t);
  if (!lab) return;
  project.writeKernelspec();
  fs.mkdirSync(path.join(ROOT, 'build'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(ROOT, 'build', 'lab-')); // inside the checkout: `margin-lab` resolves
  const books = opts.books;
  for (const b of books) fs.copyFileSync(path.join(ROOT, 'notebooks', b), path.join(dir, b));
  // JupyterLab 4 renders only the cells in view ("windowing"); the checks below read every cell.
  const settings = path.join(dir, '.settings');
  fs.mkdirSync(path.join(settings, '@jupyterlab', 'notebook-extension'), { recursive: true });
  fs.writeFileSync(
    path.join(settings, '@jupyterlab', 'notebook-extension', 'tracker.jupyterlab-settings'),
    JSON.stringify({ windowingMode: 'none' }),
  );
  // No "get notified about Jupyter news?" toast over the page.
  fs.mkdirSync(path.join(settings, '@jupyterlab', 'apputils-extension'), { recursive: true });
  fs.writeFileSync(
    path.join(settings, '@jupyterlab', 'apputils-extension', 'notification.jupyterlab-settings'),
    JSON.stringify({ fetchNews: 'false', checkForUpdates: false }),
  );
  if (!opts.plotlyExtension) {
    // What a Lab without jupyterlab-plotly sees (user-level page config: the venv is not touched).
    fs.mkdirSync(path.join(dir, '.config', 'labconfig'), { recursive: true });
    fs.writeFileSync(
      path.join(dir, '.config', 'labconfig', 'page_config.json'),
      // The package, and its MIME plugin's own id (Lab matches plugins by id, not by package name).
      JSON.stringify({ disabledExtensions: { 'jupyterlab-plotly': true, '@jupyterlab/plotly-extension': true } }),
    );
  }
  const port = await freePort();
  const token = `t${process.pid}${Date.now()}`;
  const args = [
    'lab',
    '--no-browser',
    `--port=${port}`,
    '--ip=127.0.0.1',
    `--IdentityProvider.token=${token}`,
    `--ServerApp.root_dir=${dir}`,
    `--LabApp.user_settings_dir=${settings}`,
    `--LabApp.workspaces_dir=${path.join(dir, '.workspaces')}`,
    '--LabApp.news_url=',
    '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate',
  ];
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--allow-root');
  let serverLog = '';
  const server = spawn(lab.bin, args, {
    cwd: dir,
    env: project.jupyterEnv({ ...process.env, MARGIN_LAB_QUICK: '1', JUPYTER_CONFIG_DIR: path.join(dir, '.config') }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (serverLog += d));
  server.stderr!.on('data', (d) => (serverLog += d));
  const { browser, page, problems } = await openBrowser();
  t.after(async () => {
    await browser.close();
    server.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await waitForServer(`http://127.0.0.1:${port}/api/status?token=${token}`, server, () => serverLog);
  // What the server sees: the kernel is listed and its resources include the logo.
  const specs = (await (await fetch(`http://127.0.0.1:${port}/api/kernelspecs?token=${token}`)).json()) as {
    kernelspecs: Record<string, { spec: { display_name: string }; resources: Record<string, string> }>;
  };
  assert.equal(specs.kernelspecs['margin-lab-ts']?.spec.display_name, 'TypeScript (margin-lab)');
  assert.ok(specs.kernelspecs['margin-lab-ts'].resources['logo-64x64'], 'the kernel has no logo resource');

  for (const [i, book] of books.entries()) {
    // A fresh workspace per notebook (?reset): only this one is open, so every selector below is its.
    await page.goto(`http://127.0.0.1:${port}/lab/workspaces/check${i}/tree/${book}?reset&token=${token}`);
    // The kernel the notebook opened with, named in the toolbar.
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.jp-NotebookPanel-toolbar .jp-Toolbar-kernelName')).some((e) =>
          /TypeScript \(margin-lab\)/.test(e.textContent ?? ''),
        ),
      undefined,
      { timeout: 120_000 },
    );
    await page.waitForFunction(
      () =>
        /Idle/.test(
          document.querySelector('.jp-NotebookPanel-toolbar .jp-Toolbar-kernelStatus')?.getAttribute('title') ?? '',
        ) || document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]') !== null,
      undefined,
      { timeout: 120_000 },
    );
    const codeCells = await page.$$eval('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell', (els) => els.length);
    assert.ok(codeCells > 0, `${book}: no code cells shown`);
    // Focus this notebook (its first cell), then Run → Run All Cells, JupyterLab's own command.
    await page.click('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell >> nth=0');
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Cells")');
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt')).some((p) =>
          /\[(\*|\d+)\]/.test(p.textContent ?? ''),
        ),
      undefined,
      { timeout: 60_000 },
    );
    // Every code cell has an execution count, and none is still queued or running.
    const shot = path.join(os.tmpdir(), `margin-lab-lab-${book}.png`);

    await page
      .waitForFunction(
        (n) => {
          const prompts = Array.from(
            document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'),
          ).map((p) => p.textContent ?? '');
          // Run All stops at an error: then the error is the answer.
          if (
            document.querySelector(
              '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], .jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]',
            ) &&
            !prompts.some((p) => /\[\*\]/.test(p))
          )
            return true;
          return prompts.length === n && prompts.every((p) => /\[\d+\]/.test(p));
        },
        codeCells,
        { timeout: 480_000 },
      )
      .catch(async (e: Error) => {
        await page.screenshot({ path: shot, fullPage: true });
        throw new Error(`${book}: not every cell ran (screenshot ${shot}): ${e.message}\n${serverLog.slice(-3000)}`);
      });
    const ran = await page.$$eval(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt',
      (els) => els.filter((p) => /\[\d+\]/.test(p.textContent ?? '')).length,
    );
    const stderr = await page.$$eval(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
      (els) => els.map((e) => (e.textContent ?? '').slice(0, 800)),
    );
    // tslab reports a failed cell on stderr; Run All then stops there.
    assert.equal(ran, codeCells, `${book}: ${ran} of ${codeCells} code cells ran; stderr:\n${stderr.join('\n---\n')}`);
    const errors = await page.$$eval(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]',
      (els) => els.map((e) => (e.textContent ?? '').slice(0, 300)),
    );
    assert.deepEqual(errors, [], `${book}: error outputs`);
    // Plotly figures, drawn by the Plotly MIME renderer (SVG, or a WebGL canvas for 3-D), or
    // without the extension by plotly.js from show()'s HTML output.
    const figure = opts.plotlyExtension
      ? '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedPlotly'
      : '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedHTMLCommon .margin-lab-figure';
    await page
      .waitForFunction(
        (sel) => {
          const figs = Array.from(document.querySelectorAll(sel));
          return figs.length > 0 && figs.every((f) => f.querySelector('.main-svg'));
        },
        figure,
        { timeout: 120_000 },
      )
      .catch(async (e: Error) => {
        await page.screenshot({ path: shot, fullPage: true });
        const html = await page.$$eval('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output', (els) =>
          els.map((el) => `${el.getAttribute('data-mime-type') ?? el.className}: ${el.innerHTML.slice(0, 200)}`),
        );
        throw new Error(`${book}: no figure drawn at ${figure} (screenshot ${shot}): ${e.message}\n${html.join('\n')}`);
      });
    const figs = await page.$$eval(figure, (els) =>
      els.map((e) => ({ svg: !!e.querySelector('.main-svg'), gl: !!e.querySelector('canvas') })),
    );
    if (!opts.plotlyExtension)
      assert.equal(
        await page.$$eval('.jp-RenderedPlotly', (els) => els.length),
        0,
        `${book}: the Plotly MIME renderer drew although its extension is disabled`,
      );
    assert.ok(figs.length >= 1, `${book}: no Plotly figure`);
    if (book === '07-arcface.ipynb')
      assert.ok(
        figs.some((f) => f.gl),
        '07: the 3-D sphere drew no WebGL canvas',
      );
    // MathJax typeset the formulas of the markdown cells.
    const typeset = await page.$$eval(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownOutput mjx-container',
      (els) => els.length,
    );
    if (book === '07-arcface.ipynb') assert.ok(typeset >= 20, `07: only ${typeset} formulas typeset`);
    // What the student sees, kept as a CI artifact (test-output/ is not committed).
    fs.mkdirSync(path.join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({
      path: path.join(
        ROOT,
        'test-output',
        `jupyterlab-${opts.plotlyExtension ? 'plotly' : 'html-fallback'}-${book}.png`,
      ),
      fullPage: true,
    });
  }
  // JupyterLab's own noise: its debugger panel asks every kernel for a debugger (tslab has none),
  // and it fetches optional resources that 404 in a server without them.
  const serious = problems.filter(
    (p) =>
      !/No active debugger session/.test(p) &&
      !/favicon|Failed to load resource.*(404|lab\/api\/(workspaces|translations))/.test(p),
  );
  assert.deepEqual(serious, [], 'browser errors');
}

test('JupyterLab in Chromium: 00-setup and 07-arcface run on the margin-lab kernel, Plotly MIME renderer, MathJax', async (t) => {
  await runInLab(t, { books: ['00-setup.ipynb', '07-arcface.ipynb'], plotlyExtension: true });
});

test("JupyterLab without plotly's labextension: 00-setup's figures draw through show()'s HTML fallback", async (t) => {
  await runInLab(t, { books: ['00-setup.ipynb'], plotlyExtension: false });
});

test('npm start, stopped with Ctrl-C sent to its process group (as a terminal does): Jupyter shuts down without a traceback, and no kernel is left running', async (t) => {
  const lab = labOrSkip(t);
  if (!lab) return;
  const port = await freePort();
  const token = 'ctrl-c-test';
  // Its own process group, as a terminal gives the command it runs.
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'scripts', 'start.js'), '--no-browser', `--port=${port}`, `--ServerApp.token=${token}`],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const api = `http://127.0.0.1:${port}/api`;
  await waitForServer(`${api}/status?token=${token}`, child, () => log);
  const kernel = (await (
    await fetch(`${api}/kernels?token=${token}`, { method: 'POST', body: JSON.stringify({ name: 'margin-lab-ts' }) })
  ).json()) as { id: string };
  // The kernel's process, by its connection file.
  const kernelPid = async (): Promise<number | null> => {
    for (let k = 0; k < 40; k++) {
      const line = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
        .stdout.split('\n')
        .find((l) => l.includes(`kernel-${kernel.id}`));
      if (line) return Number(line.trim().split(/\s+/)[0]);
      await new Promise((r) => setTimeout(r, 250));
    }
    return null;
  };
  const pid = await kernelPid();
  assert.ok(pid, `the kernel ${kernel.id} did not start:\n${log}`);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  process.kill(-child.pid!, 'SIGINT');
  const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000))]);
  if (code === 'timeout') process.kill(-child.pid!, 'SIGKILL');
  assert.equal(code, 0, `npm start after Ctrl-C: ${code}\n${log}`);
  assert.doesNotMatch(log, /Traceback|KeyboardInterrupt/, log);
  assert.match(log, /margin-lab: stopping Jupyter \(Ctrl-C\) and its kernels/);
  let alive = true;
  for (let k = 0; k < 20 && alive; k++) {
    try {
      process.kill(pid!, 0);
      await new Promise((r) => setTimeout(r, 250));
    } catch {
      alive = false;
    }
  }
  if (alive) process.kill(pid!, 'SIGKILL');
  assert.equal(alive, false, `the kernel process ${pid} is still running after npm start stopped`);
});
