/**
 * Export and the verification page: a glyph run becomes a TF.js bundle (model.json, weights.bin,
 * meta.json with the threshold at FAR 1e-3, README) and a page that runs the model in Chromium,
 * opened from the file system, with the embeddings Node computes.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';
import { openBrowser } from './helpers/browser';

function cli(tool: 'train' | 'export', args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', `${tool}.js`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

function cosine(a: number[], b: number[]): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    d += a[k] * b[k];
    na += a[k] * a[k];
    nb += b[k] * b[k];
  }
  return d / Math.sqrt(na * nb);
}

interface Bundle {
  meta: ml.ExportMeta;
  samples: ml.ExportSample[];
}

test('export: a glyph run as a TF.js bundle with meta.json and a README; the verification page runs it in Chromium from file:// with the embeddings and decisions Node gives', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-export-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const run = path.join(root, 'run');
  // A small, fast run: an MLP with the BN neck on 300 syllables (a few seconds on wasm).
  const tr = cli('train', [
    ...['--dataset', 'hangul-glyphs', '--loss', 'arcface', '--seen', '0-299', '--s', '30'],
    ...['--backbone', 'mlp', '--neck', '--dim', '32', '--epochs', '3', '--max-steps', '25', '--run', run],
  ]);
  assert.equal(tr.status, 0, tr.stderr);

  // Usage errors first: nothing is written.
  const noOut = cli('export', ['--run', run]);
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out DIR is required \(the bundle folder\)/);
  const stray = cli('export', ['--run', run, '--out', path.join(root, 'x'), '--demo-classes', '3']);
  assert.equal(stray.status, 2);
  assert.match(stray.stderr, /--demo-classes applies only with --demo \(npm run demo\)/);
  assert.ok(!fs.existsSync(path.join(root, 'x')));

  // The plain bundle.
  // A folder name with a quote and Hangul: the printed load snippets must still be valid JavaScript.
  const plain = path.join(root, "it's 번들");
  const ex = cli('export', ['--run', run, '--out', plain]);
  assert.equal(ex.status, 0, ex.stderr);
  const snippet = /tf\.loadLayersModel\((.*)\) \(tfjs-node\) or loadEmbeddingModel\((.*)\)$/m.exec(ex.stdout);
  assert.ok(snippet, ex.stdout);
  assert.equal(new Function(`return ${snippet[1]};`)(), `file://${path.join(plain, 'model.json')}`);
  assert.equal(new Function(`return ${snippet[2]};`)(), plain);
  assert.deepEqual(fs.readdirSync(plain).sort(), ['README.md', 'meta.json', 'model.json', 'weights.bin']);
  const meta = JSON.parse(fs.readFileSync(path.join(plain, 'meta.json'), 'utf8')) as ml.ExportMeta;
  assert.equal(meta.format, 'margin-lab-export');
  assert.deepEqual(meta.input.shape, [32, 32, 1]);
  assert.equal(meta.embeddingDim, 32);
  assert.equal(meta.loss.loss, 'arcface');
  assert.equal(meta.source.dataset, 'hangul-glyphs');
  // The threshold is the FAR 1e-3 point of the run's own evaluation (npm run eval on the same split).
  const ev = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'eval.js'), '--run', run, '--json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(ev.status, 0, ev.stderr);
  const evJson = JSON.parse(ev.stdout) as { tarAtFar: ml.TarAtFar[] };
  const at = evJson.tarAtFar.find((x) => x.far === 1e-3)!;
  assert.equal(meta.threshold.far, 1e-3);
  assert.equal(meta.threshold.cosine, at.threshold);
  assert.equal(meta.threshold.tar, at.tar);
  assert.ok(meta.threshold.measuredOn.impostorPairs >= 1000, 'enough impostor pairs for FAR 1e-3');
  assert.match(fs.readFileSync(path.join(plain, 'README.md'), 'utf8'), /same identity when cosine ≥ \d\.\d{6}/);
  assert.match(ex.stdout, /threshold at FAR 0\.001: cosine ≥ /);
  // Asked again, it refuses to write over the bundle.
  const again = cli('export', ['--run', run, '--out', plain]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /already holds files; nothing was changed.*--overwrite/);

  // The page: npm run demo writes <run>/demo.
  const demo = cli('export', ['--run', run, '--demo']);
  assert.equal(demo.status, 0, demo.stderr);
  const out = path.join(run, 'demo');
  for (const f of ['index.html', 'demo.js', 'bundle.js', 'tf.min.js', 'model.json', 'weights.bin', 'meta.json'])
    assert.ok(fs.existsSync(path.join(out, f)), `the page bundle lacks ${f}`);
  const src = fs.readFileSync(path.join(out, 'bundle.js'), 'utf8');
  const bundle = JSON.parse(src.slice(src.indexOf('=') + 1).replace(/;\s*$/, '')) as Bundle;
  assert.equal(bundle.samples.length, 24 * 4, '24 unseen syllables × 4 faces');
  assert.ok(
    bundle.samples.every((s) => !meta.source.dataset || s.label >= 300),
    'the samples are unseen classes',
  );

  // Node's embeddings of the page's samples, through TF.js's own loader of the exported files.
  const model = await ml.loadEmbeddingModel(out);
  const px = (i: number) => Float32Array.from(Buffer.from(bundle.samples[i].pixels, 'base64'), (v) => v / 255);
  const nodeEmb = (i: number) =>
    ml.tf.tidy(() => Array.from((model.predict(ml.tf.tensor4d(px(i), [1, 32, 32, 1])) as ml.tf.Tensor).dataSync()));
  // The pairs: the closest two images of one syllable, and the farthest two of different syllables.
  let same: [number, number, number] = [0, 0, -2];
  let diff: [number, number, number] = [0, 0, 2];
  const emb = bundle.samples.map((_, i) => nodeEmb(i));
  let genuine = 0;
  let nGenuine = 0;
  let impostor = 0;
  let nImpostor = 0;
  for (let i = 0; i < emb.length; i++)
    for (let j = i + 1; j < emb.length; j++) {
      const c = cosine(emb[i], emb[j]);
      if (bundle.samples[i].label === bundle.samples[j].label) {
        genuine += c;
        nGenuine++;
        if (c > same[2]) same = [i, j, c];
      } else {
        impostor += c;
        nImpostor++;
        if (c < diff[2]) diff = [i, j, c];
      }
    }
  assert.ok(
    genuine / nGenuine > impostor / nImpostor + 0.1,
    'the model separates syllables (mean genuine > impostor cosine)',
  );
  const thr = meta.threshold.cosine;
  assert.ok(same[2] >= thr, `the closest same-syllable pair (${same[2]}) clears the threshold ${thr}`);
  assert.ok(diff[2] < thr, `the farthest pair of different syllables (${diff[2]}) is below the threshold ${thr}`);

  const { browser, page, problems } = await openBrowser();
  t.after(() => browser.close());
  await page.goto(pathToFileURL(path.join(out, 'index.html')).href);
  await page.evaluate(() => (window as unknown as { marginLab: { ready: Promise<void> } }).marginLab.ready);
  const backend = await page.textContent('#backend');
  assert.match(backend ?? '', /^(webgpu|webgl|wasm|cpu)\b/, `the page names its backend: ${backend}`);
  assert.equal(await page.locator('#strip figure').count(), 96);
  for (const [name, [i, j], want] of [
    ['same syllable', same, 'same syllable'],
    ['different syllables', diff, 'different syllables'],
  ] as const) {
    const r = (await page.evaluate(
      ([a, b]) => {
        const lab = (window as unknown as { marginLab: Record<string, (...x: unknown[]) => unknown> }).marginLab;
        lab.pick('a', a);
        lab.pick('b', b);
        return lab.compare();
      },
      [i, j],
    )) as { a: number[]; b: number[]; cosine: number; same: boolean };
    const worst = Math.max(
      ...r.a.map((v, k) => Math.abs(v - emb[i][k])),
      ...r.b.map((v, k) => Math.abs(v - emb[j][k])),
    );
    assert.ok(worst <= 1e-4, `${name}: the page's embeddings differ from Node's by ${worst} (backend ${backend})`);
    assert.ok(Math.abs(r.cosine - cosine(emb[i], emb[j])) <= 1e-4, `${name}: cosine ${r.cosine} in the page`);
    assert.equal(r.same, cosine(emb[i], emb[j]) >= thr, `${name}: the page decides as Node does`);
    assert.equal(await page.textContent('#decision'), want, name);
    assert.match((await page.textContent('#angle')) ?? '', /^\d+\.\d°$/);
  }
  // A syllable drawn with the mouse in A is embedded too.
  await page.click('#clear-a');
  const box = (await page.locator('#canvas-a').boundingBox())!;
  await page.mouse.move(box.x + 40, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + 120, box.y + 40, { steps: 8 });
  await page.mouse.move(box.x + 80, box.y + 130, { steps: 8 });
  await page.mouse.up();
  assert.equal(await page.textContent('#source-a'), 'drawn');
  const drawn = (await page.evaluate(
    () => (window as unknown as { marginLab: { last: { cosine: number } | null } }).marginLab.last,
  ))!;
  assert.ok(Number.isFinite(drawn.cosine), 'the drawn syllable was compared');
  fs.mkdirSync(path.join(ROOT, 'test-output'), { recursive: true });
  await page.screenshot({ path: path.join(ROOT, 'test-output', 'demo-page.png'), fullPage: true });
  // The words are the data set's, and every class label of the projection is inside the canvas
  // and clear of the others.
  assert.equal(await page.textContent('#title'), 'Is it the same syllable?');
  const layout = (await page.evaluate(() => {
    const lab = (window as unknown as { marginLab: { labelBoxes: Array<Record<string, number>> } }).marginLab;
    const cv = document.getElementById('projection') as HTMLCanvasElement;
    return { boxes: lab.labelBoxes, w: cv.width, h: cv.height };
  })) as { boxes: Array<{ x: number; y: number; w: number; h: number }>; w: number; h: number };
  assert.ok(layout.boxes.length >= 12, `only ${layout.boxes.length} of 24 class labels drawn`);
  for (const [i, b] of layout.boxes.entries()) {
    assert.ok(
      b.x >= 0 && b.y >= 0 && b.x + b.w <= layout.w && b.y + b.h <= layout.h,
      `label ${i} clipped: ${JSON.stringify(b)}`,
    );
    for (const c of layout.boxes.slice(i + 1))
      assert.ok(
        !(b.x < c.x + c.w && c.x < b.x + b.w && b.y < c.y + c.h && c.y < b.y + b.h),
        `labels overlap: ${JSON.stringify([b, c])}`,
      );
  }
  // The same page for a model of another data set speaks of its classes.
  const bundleFile = path.join(out, 'bundle.js');
  const original = fs.readFileSync(bundleFile, 'utf8');
  assert.ok(original.includes('"dataset":"hangul-glyphs"'), 'the bundle names its data set');
  for (const [dataset, one, many] of [
    ['fashion-mnist', 'class', 'classes'],
    ['mnist', 'digit', 'digits'],
  ] as const) {
    fs.writeFileSync(bundleFile, original.replace('"dataset":"hangul-glyphs"', `"dataset":"${dataset}"`));
    await page.reload();
    await page.evaluate(() => (window as unknown as { marginLab: { ready: Promise<void> } }).marginLab.ready);
    assert.equal(await page.textContent('#title'), `Is it the same ${one}?`);
    assert.equal(await page.textContent('#strip-title'), `Unseen ${many} (never shown in training)`);
    await page.evaluate(() => {
      const lab = (window as unknown as { marginLab: Record<string, (...x: unknown[]) => unknown> }).marginLab;
      lab.pick('a', 0);
      lab.pick('b', 1);
      return lab.compare();
    });
    assert.ok([`same ${one}`, `different ${many}`].includes((await page.textContent('#decision')) ?? ''), dataset);
  }
  fs.writeFileSync(bundleFile, original);
  assert.deepEqual(problems, [], 'browser errors');
});
