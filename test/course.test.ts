/**
 * The course edition (`npm run course`): a site built from three notebooks in quick mode opens in
 * Chromium from the file system, offline: the index lists the notebooks and the solution, every
 * figure draws from the one shared plotly.js, MathJax typesets the LaTeX, and nothing logs an error.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ROOT } from './helpers/paths';
import { openBrowser } from './helpers/browser';

const COURSE = path.join(ROOT, 'scripts', 'course.js');

test('course: bad arguments are refused, and a folder that is not a course site is never replaced', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-course-keep-'));
  fs.writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
  // A "notebook" that is a folder, one that is not JSON, and an --out that is a file.
  fs.mkdirSync(path.join(dir, 'folder.ipynb'));
  fs.writeFileSync(path.join(dir, 'broken.ipynb'), '{');
  for (const [args, msg] of [
    [['--zip'], /unknown flag '--zip'/],
    [['README.md'], /'README\.md' is not a notebook file/],
    [[path.join(dir, 'folder.ipynb')], /folder\.ipynb' is a folder, not a notebook file/],
    [
      [path.join(dir, 'broken.ipynb')],
      /broken\.ipynb' is not a Jupyter notebook \(.*\): expected the JSON of an \.ipynb file/,
    ],
    [['--out', path.join(dir, 'precious.txt')], /--out .*precious\.txt is a file, not a folder/],
    [['--out', dir, path.join(ROOT, 'notebooks', '00-setup.ipynb')], /exists and is not an earlier course site/],
  ] as const) {
    const r = spawnSync(process.execPath, [COURSE, ...args], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, msg);
  }
  assert.equal(fs.readFileSync(path.join(dir, 'precious.txt'), 'utf8'), 'keep me');
  fs.rmSync(dir, { recursive: true });
});

test('course: the site opens offline, figures draw from the shared plotly.js, MathJax typesets, no errors', async (t) => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ml-course-')), 'site');
  const books = ['notebooks/00-setup.ipynb', 'notebooks/08-decision-boundaries.ipynb'];
  const solution = 'notebooks/solutions/08-decision-boundaries-solutions.ipynb';
  const r = spawnSync(process.execPath, [COURSE, '--out', out, ...books, solution], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, MARGIN_LAB_QUICK: '1' },
    timeout: 600_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const bundleHead = fs.readFileSync(path.join(out, 'plotly.min.js'), 'utf8').slice(0, 300);
  for (const f of ['00-setup.html', '08-decision-boundaries.html']) {
    const html = fs.readFileSync(path.join(out, f), 'utf8');
    assert.ok(!html.includes(bundleHead), `${f} still inlines plotly.js`);
    assert.match(html, /<script type="text\/javascript" src="plotly\.min\.js"><\/script>/);
    assert.doesNotMatch(html, /src="(https?:|file:)/, `${f} loads something from outside the site`);
  }

  const { browser, page, problems } = await openBrowser();
  t.after(() => browser.close());
  page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()}`));
  // Offline: any request that leaves the file system fails the test.
  await page.route(/^https?:/, (route) => {
    problems.push(`network request: ${route.request().url()}`);
    return route.abort();
  });

  await page.goto('file://' + path.join(out, 'index.html'));
  const links = await page.$$eval('a', (as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
  assert.deepEqual(
    links.map((l) => l[1]),
    ['00-setup.html', '08-decision-boundaries.html', '08-decision-boundaries-solutions.html'],
  );
  assert.match(String(links[1][0]), /Decision boundaries/);
  const goals = await page.$$eval('ul.goals li', (els) => els.length);
  assert.ok(goals >= 3, `index shows ${goals} learning goals`);

  for (const [file, figures] of [
    ['00-setup.html', 1],
    ['08-decision-boundaries.html', 3],
  ] as const) {
    await page.goto('file://' + path.join(out, file));
    await page.waitForFunction(
      (n) => {
        const figs = Array.from(document.querySelectorAll('.margin-lab-figure'));
        return figs.length >= n && figs.every((f) => f.querySelector('.main-svg'));
      },
      figures,
      { timeout: 60_000 },
    );
    if (file.startsWith('08')) {
      // MathJax 2 (CommonHTML output) replaces each formula with .mjx-chtml elements.
      await page.waitForSelector('.mjx-chtml', { timeout: 60_000 });
      const typeset = await page.$$eval('.mjx-chtml', (els) => els.length);
      assert.ok(typeset > 20, `${file}: only ${typeset} typeset formulas`);
      // Tables with formulas must not be crushed: MathJax's automatic line breaks, on in the
      // nbconvert template, broke a cell's formula into a narrow strip beside an empty gap. A cell
      // is crushed when its text spans less than half the cell's width yet more than two lines.
      await page.waitForFunction(
        () => {
          const hub = (window as unknown as { MathJax?: { Hub?: { queue?: { pending: number; running: number } } } })
            .MathJax?.Hub;
          return !!hub?.queue && hub.queue.pending === 0 && !hub.queue.running;
        },
        null,
        { timeout: 60_000 },
      );
      const mathCells = await page.$$eval(
        '.jp-RenderedHTMLCommon td',
        (cells) => cells.filter((td) => td.querySelector('.mjx-chtml')).length,
      );
      assert.ok(mathCells > 10, `${file}: only ${mathCells} table cells with formulas, the check would be empty`);
      const crushed = await page.$$eval('.jp-RenderedHTMLCommon td', (cells) =>
        cells
          .map((td) => {
            let left = Infinity,
              right = -Infinity,
              top = Infinity,
              bottom = -Infinity;
            const walker = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
              if (!(n.textContent ?? '').trim()) continue;
              const range = document.createRange();
              range.selectNodeContents(n);
              for (const q of Array.from(range.getClientRects())) {
                if (q.width === 0) continue;
                left = Math.min(left, q.left);
                right = Math.max(right, q.right);
                top = Math.min(top, q.top);
                bottom = Math.max(bottom, q.bottom);
              }
            }
            const cs = getComputedStyle(td);
            const inner = td.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
            const line = parseFloat(cs.fontSize) * 1.3;
            return {
              text: (td.textContent ?? '').trim().slice(0, 30),
              width: right - left,
              inner,
              height: bottom - top,
              line,
            };
          })
          .filter((c) => c.width < 0.5 * c.inner && c.height > 2.2 * c.line)
          .map(
            (c) =>
              `${c.text}: ${Math.round(c.width)} of ${Math.round(c.inner)} px wide, ${Math.round(c.height)} px tall`,
          ),
      );
      assert.deepEqual(crushed, [], `${file}: table cells whose formulas wrap in a narrow strip`);
    }
  }
  assert.deepEqual(problems, []);

  // A rebuild replaces only what the builder wrote: a user's files in the site stay, the pages of
  // the earlier build that this one does not make are removed, and no build folder is left.
  fs.writeFileSync(path.join(out, 'my-notes.md'), 'keep me');
  fs.mkdirSync(path.join(out, 'extra'));
  fs.writeFileSync(path.join(out, 'extra', 'slides.pdf'), 'keep me too');
  const again = spawnSync(process.execPath, [COURSE, '--out', out, books[0]], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, MARGIN_LAB_QUICK: '1' },
    timeout: 600_000,
  });
  assert.equal(again.status, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, /kept what the builder did not write: extra, my-notes\.md/);
  assert.equal(fs.readFileSync(path.join(out, 'my-notes.md'), 'utf8'), 'keep me');
  assert.equal(fs.readFileSync(path.join(out, 'extra', 'slides.pdf'), 'utf8'), 'keep me too');
  assert.ok(fs.existsSync(path.join(out, '00-setup.html')));
  assert.ok(!fs.existsSync(path.join(out, '08-decision-boundaries.html')), "the earlier build's page is gone");
  assert.deepEqual(
    fs.readdirSync(path.dirname(out)).filter((f) => f.includes('building')),
    [],
    'no build folder left',
  );
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
});
