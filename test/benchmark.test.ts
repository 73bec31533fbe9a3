/**
 * The open-set benchmark: its metrics on embeddings whose answer is known, and `npm run
 * benchmark` in quick mode end to end (files, report, resuming, bad flags). It checks the
 * pipeline, never the ordering of the losses.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { openSetMetrics } from 'margin-lab/dist/eval/open-set';
import {
  configKey,
  syntheticBenchmarkSplit,
  loadBenchmarkResults,
  readBenchmarkRun,
  summarize,
  summaryMarkdown,
  BenchmarkRun,
} from 'margin-lab/dist/benchmark';
import { ROOT } from './helpers/paths';
import { settledBudget, settlementVerdict } from 'margin-lab/dist/experiments/convergence';
import * as ml from 'margin-lab';

/** n identities × k images; `spread` = 0 puts every image of an identity on one direction. */
function embeddings(n: number, k: number, dim: number, spread: number, seed: number) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const centers = Array.from({ length: n }, () => Array.from({ length: dim }, rnd));
  const emb = new Float32Array(n * k * dim);
  const labels = new Int32Array(n * k);
  for (let c = 0; c < n; c++) {
    for (let j = 0; j < k; j++) {
      const i = c * k + j;
      labels[i] = c;
      for (let q = 0; q < dim; q++) emb[i * dim + q] = centers[c][q] + spread * rnd();
    }
  }
  return { emb, labels };
}

test('open-set metrics: perfect embeddings score 100 %, noise scores near chance, pairs are all pairs', () => {
  const good = embeddings(60, 6, 16, 0, 1);
  const m = openSetMetrics(good.emb, 16, good.labels);
  const n = 360;
  assert.equal(m.genuinePairs + m.impostorPairs, (n * (n - 1)) / 2, 'every pair is scored');
  assert.equal(m.genuinePairs, 60 * 15);
  assert.equal(m.tar1e3, 1);
  assert.equal(m.tar1e4, 1);
  assert.equal(m.rank1, 1);
  assert.equal(m.eer, 0);
  assert.equal(m.tenFold, 1);
  const noise = embeddings(60, 6, 16, 50, 2);
  const r = openSetMetrics(noise.emb, 16, noise.labels);
  assert.ok(r.rank1 < 0.2, `rank-1 on noise ${r.rank1}`);
  assert.ok(r.eer > 0.3, `EER on noise ${r.eer}`);
  assert.ok(r.roc.far.length > 5 && r.roc.far.every((f, i) => i === 0 || f > r.roc.far[i - 1]));
});

test('summary: mean ± std over seeds, n/a kept apart from zero', () => {
  const base = {
    tenFoldStd: 0,
    pairsPerFold: 300,
    auc: 0.9,
    eer: 0.1,
    tar1e3: 0.5,
    dir1e2: null,
    genuinePairs: 1,
    impostorPairs: 1,
    trainSeconds: 1,
    finalTrainLoss: 1,
    roc: { far: [], tar: [] },
  };
  const rs: BenchmarkRun[] = [
    { ...base, loss: 'arcface', seed: 1, tenFold: 0.9, tar1e4: 0.2, rank1: 0.5 },
    { ...base, loss: 'arcface', seed: 2, tenFold: 0.8, tar1e4: 0.4, rank1: 0.7 },
    { ...base, loss: 'softmax', seed: 1, tenFold: 0.7, tar1e4: null, rank1: 0.3 },
  ];
  const sum = summarize(rs, ['softmax', 'arcface', 'cosface']);
  assert.deepEqual(
    sum.map((r) => r.loss),
    ['softmax', 'arcface'],
    'losses without runs are left out, order kept',
  );
  assert.ok(Math.abs((sum[1].mean.tar1e4 as number) - 0.3) < 1e-12);
  assert.ok(Math.abs((sum[1].std.tar1e4 as number) - Math.sqrt(0.02)) < 1e-12);
  assert.equal(sum[0].mean.tar1e4, null);
  const md = summaryMarkdown(sum);
  assert.match(md, /^\| loss \| runs \| 10-fold acc \| EER \| TAR@1e-3 \| TAR@1e-4 \| rank-1 \| DIR@1e-2 \|$/m);
  assert.match(md, /^\| softmax \| 1 \| 70\.00 ± 0\.00 \| .* \| n\/a \| 30\.00 ± 0\.00 \| n\/a \|$/m);
  assert.match(md, /^\| arcface \| 2 \| 85\.00 ± 7\.07 \|/m);
});

function bench(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'benchmark.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, MARGIN_LAB_QUICK: '1', ...env },
  });
}

test('npm run benchmark, quick mode: trains 2 losses, writes CSV, figures and report, and resumes', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-benchmark-'));
  const r = bench(['--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /benchmark: 2 runs \(2 losses × 1 seeds\), 0 already done/);
  assert.match(
    r.stdout,
    /training on 160 seen syllables \(4800 images\), testing on 40 unseen syllables \(400 images in held-out faces\)/,
  );
  assert.match(
    r.stdout,
    /benchmark \[=+\] 2\/2 runs; arcface seed 1: TAR@1e-4 [\d.]+%, rank-1 [\d.]+% \(\d+ s\); ETA 0:00$/m,
  );
  const csv = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[1], /^softmax,1,0\.\d+,/);
  assert.match(csv[2], /^arcface,1,0\.\d+,/);
  const md = fs.readFileSync(path.join(out, 'benchmark.md'), 'utf8');
  assert.match(md, /\*\*quick mode\*\*, MARGIN_LAB_QUICK=1: a pipeline check, not a result/);
  assert.match(md, /\| softmax \| 1 \| \d+\.\d\d ± 0\.00 \|/);
  assert.match(md, /## Is the ordering stable across seeds\?/);
  assert.match(md, /^\| TAR@1e-4 \| 1 \| (softmax > arcface|arcface > softmax) \|$/m);
  assert.match(md, /^- TAR@1e-4: one seed only\.$/m);
  assert.match(md, /^- rank-1: one seed only\.$/m);
  assert.match(md, /## Beside the ArcFace paper/);
  assert.match(
    md,
    /\| arcface > softmax \| margin losses beat plain softmax \| [\d.]+% vs [\d.]+%: (agrees|disagrees|within one std \(tie\)) \|/,
  );
  // wasm here and in CI's main pass; tensorflow where libtensorflow is installed (CI's native pass).
  const forced = process.env.MARGIN_LAB_BACKEND;
  assert.match(md, new RegExp(`\\*\\*Backend\\*\\*: margin-lab backend: ${forced ? forced : '(wasm|tensorflow)'} on`));
  assert.match(
    md,
    /\*\*Recipe\*\* \(`--recipe face`\): SGD lr 0\.1, Nesterov momentum 0\.9, weight decay 0\.0005; 10 % linear warm-up, then cosine lr; BN after every convolution and hidden dense–BN–ReLU, then dense–BN \(neck layout bn-relu\)\./,
  );
  assert.match(
    md,
    /\*\*Data\*\*: the shipped subset \(data\/hangul-glyphs: 1,000 syllables × 40 faces\), first 200 syllables/,
  );
  const html = fs.readFileSync(path.join(out, 'figures.html'), 'utf8');
  assert.match(html, /TAR @ FAR = 1e-4/);
  assert.match(html, /Verification ROC on unseen syllables/);
  const again = bench(['--out', out]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /2 runs \(2 losses × 1 seeds\), 2 already done/);
  assert.doesNotMatch(again.stdout + again.stderr, /epoch 1\/2/, 'a finished run was trained again');
});

test('npm run benchmark: bad flags are errors', () => {
  const a = bench(['--losses', 'arcface,arcfce']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--losses: "arcfce" is not a loss; expected some of softmax, normface/);
  const b = bench(['--all', '--losses', 'softmax']);
  assert.match(b.stderr, /--all and --losses contradict each other/);
  const c = bench(['--seeds', '1,x']);
  assert.match(c.stderr, /--seeds: "x" is not a non-negative integer/);
  const d = bench(['--neck-layout', 'bn-bn']);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /--neck-layout "bn-bn": expected one of bn-relu, relu-bn, bn2d/);
  const e = bench(['--neck-layout', 'bn2d', '--backbone', 'lenetpp']);
  assert.match(
    e.stderr,
    /--neck-layout applies to the reference backbone with the face recipe \(which has the neck\), not --backbone lenetpp --recipe face/,
  );
  const f = bench(['--neck-layout', 'bn2d', '--recipe', 'adam']);
  assert.match(f.stderr, /--neck-layout applies to the reference backbone with the face recipe/);
});

test('npm run benchmark -- --ablation, quick mode: every variant, one row per (variant, loss), report beside the runs', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ablation-'));
  const docsDir = path.join(ROOT, 'docs');
  const snapshot = () => fs.readdirSync(docsDir).map((f) => [f, fs.readFileSync(path.join(docsDir, f), 'utf8')]);
  const docsBefore = snapshot();
  const r = bench(['--ablation', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const md = fs.readFileSync(path.join(out, 'ablation.md'), 'utf8');
  assert.match(md, /\*\*quick mode\*\*, MARGIN_LAB_QUICK=1: a pipeline check, not a result/);
  assert.match(md, /\*\*Data\*\*: the shipped subset \(1,000 syllables × 40 faces\), first 200 syllables/);
  const rows = md.split('\n').filter((l) => /^\| (adam|face|sgd)/.test(l));
  // 8 variants with ArcFace and softmax, 3 with ArcFace alone.
  assert.equal(rows.length, 8 * 2 + 3, rows.join('\n'));
  for (const id of [
    'adam',
    'adam+neck',
    'adam+neck+bn',
    'face',
    'face-relu-bn',
    'face-bn2d',
    'face-wd0',
    'face-s30',
    'face+mwarm',
    'sgd-nobn',
    'sgd-nobn+mwarm',
  ])
    assert.ok(
      rows.some((l) => l.startsWith(`| ${id} |`)),
      `variant ${id}`,
    );
  for (const l of rows) assert.match(l, /\| (arcface|softmax) \| 1 \| (\d+\.\d|n\/a) \| \d+\.\d \| \d+\.\d{3} \|$/);
  // The margin warm-up changes ArcFace's training loss against the same recipe without it.
  const lossOf = (id: string) =>
    Number(
      rows
        .find((l) => l.startsWith(`| ${id} |`) && l.includes('| arcface |'))!
        .split('|')
        .at(-2),
    );
  assert.notEqual(lossOf('face+mwarm'), lossOf('face'));
  // A scratch run never touches the repository's reports.
  assert.deepEqual(snapshot(), docsBefore);
  const bad = bench(['--ablation', '--losses', 'arcface']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--losses does not apply with --ablation/);
  const badVariant = bench(['--ablation', '--variants', 'face,nope']);
  assert.match(badVariant.stderr, /--variants: "nope" is not a variant; expected some of adam, adam\+neck/);
  const notAblation = bench(['--variants', 'face']);
  assert.match(notAblation.stderr, /--variants applies with --ablation only/);
});

test('npm run benchmark: the recipe flag and repeated list items', () => {
  const a = bench(['--recipe', 'sgd']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--recipe "sgd": expected one of face, adam/);
  const b = bench(['--losses', 'softmax,softmax']);
  assert.match(b.stderr, /--losses softmax,softmax: "softmax" is repeated/);
  const c = bench(['--seeds', '1,1']);
  assert.match(c.stderr, /--seeds 1,1: "1" is repeated/);
  const e = bench(['--identities', '100000']);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /--identities 100000: the glyph set has 1,000 syllables/);
  const d = bench(['--data', 'big']);
  assert.match(d.stderr, /--data "big": expected auto, full or shipped/);
});

test('npm run benchmark -- --twin: PyTorch trains the same run from the same start (first steps agree for every core loss)', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    if (process.env.CI) assert.fail(`CI needs Debian's python3-torch for the twin: ${probe.stderr.trim()}`);
    t.skip('no /usr/bin/python3 with torch here (apt-get install python3-torch)');
    return;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-twin-'));
  const losses = ['softmax', 'normface', 'sphereface', 'cosface', 'arcface', 'curricularface'];
  // Two steps: the first from identical weights on the same batch (the loss definitions and the
  // network's export), the second after one update (the optimizer: SGD, Nesterov, weight decay).
  const r = bench(['--twin', '--losses', losses.join(','), '--epochs', '1', '--max-steps', '2', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const read = (dir: string) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as BenchmarkRun);
  const ours = read(path.join(out, 'runs'));
  const twin = read(path.join(out, 'twin'));
  assert.equal(twin.length, losses.length);
  for (const loss of losses) {
    const a = ours.find((x) => x.loss === loss)!;
    const b = twin.find((x) => x.loss === loss)!;
    const rel = Math.abs(a.finalTrainLoss - b.finalTrainLoss) / Math.abs(a.finalTrainLoss);
    assert.ok(
      rel < 2e-3,
      `${loss}: mean loss of the first two steps ${a.finalTrainLoss} (margin-lab) vs ${b.finalTrainLoss} (PyTorch)`,
    );
    assert.equal(b.genuinePairs, a.genuinePairs, 'the twin is scored on the same test set');
  }
  const md = fs.readFileSync(path.join(out, 'benchmark.md'), 'utf8');
  assert.match(md, /## margin-lab against its PyTorch twin/);
  assert.match(
    md,
    /^\| arcface \| 1 \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \| [\d.]+ \| [\d.]+ \| [+-][\d.]+ \| [\d.]+ \| [\d.]+ \| (yes|\*\*no\*\*) \|$/m,
  );
  // Rerun: both sides are cached.
  const again = bench(['--twin', '--losses', losses.join(','), '--epochs', '1', '--max-steps', '2', '--out', out]);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /twin: softmax seed 1 \(PyTorch/);
  // --finished-only: a missing twin run is reported as missing and left out, and nothing trains
  // (the Python given does not exist, so any attempt to train would fail).
  const softmaxTwin = fs.readdirSync(path.join(out, 'twin')).find((f) => f.startsWith('softmax-'))!;
  fs.rmSync(path.join(out, 'twin', softmaxTwin));
  const partial = bench([
    '--twin',
    '--finished-only',
    '--python',
    path.join(out, 'no-such-python'),
    '--losses',
    losses.join(','),
    '--epochs',
    '1',
    '--max-steps',
    '2',
    '--out',
    out,
  ]);
  assert.equal(partial.status, 0, partial.stderr);
  assert.match(partial.stdout, /twin: softmax seed 1 not trained yet/);
  assert.ok(!fs.existsSync(path.join(out, 'twin', softmaxTwin)), 'no twin run was trained');
  const partialMd = fs.readFileSync(path.join(out, 'benchmark.md'), 'utf8');
  assert.match(partialMd, /5 twin runs of 6/);
  assert.doesNotMatch(partialMd, /^\| softmax \| 1 \| [\d.]+ \| [\d.]+ \| [+-]/m);
  assert.match(partialMd, /^\| arcface \| 1 \| [\d.]+ \| [\d.]+ \| [+-]/m);
  const bad = bench(['--python', '/usr/bin/python3']);
  assert.match(bad.stderr, /--python applies with --twin only/);
});

test('npm run benchmark --finished-only reports the finished runs and trains none', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-benchmark-finished-'));
  const none = bench(['--finished-only', '--out', out]);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /no finished runs of this configuration/);
  const one = bench(['--losses', 'softmax', '--epochs', '1', '--max-steps', '3', '--out', out]);
  assert.equal(one.status, 0, one.stderr);
  const r = bench([
    '--losses',
    'softmax,arcface',
    '--epochs',
    '1',
    '--max-steps',
    '3',
    '--finished-only',
    '--out',
    out,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /reporting the 1 finished runs only; not trained: arcface seed 1/);
  assert.doesNotMatch(r.stderr + r.stdout, /epoch 1\/1/);
  const md = fs.readFileSync(path.join(out, 'benchmark.md'), 'utf8');
  assert.match(md, /\*\*In progress\*\*: 1 of 2 runs have finished/);
});

test('benchmark run files: a folder, bad JSON, {} or another run under the name are refused by name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-runfiles-'));
  const good = path.join(
    ROOT,
    'benchmark',
    'runs',
    fs.readdirSync(path.join(ROOT, 'benchmark', 'runs')).find((f) => f.startsWith('softmax-seed1-'))!,
  );
  const r = readBenchmarkRun(good, { loss: 'softmax', seed: 1 });
  assert.equal(r.loss, 'softmax');
  assert.throws(
    () => readBenchmarkRun(good, { loss: 'arcface', seed: 1 }),
    /expected the run of arcface, seed 1 \(its file name\), got \{"loss":"softmax","seed":1\}/,
  );
  fs.mkdirSync(path.join(dir, 'a.json'));
  assert.throws(
    () => readBenchmarkRun(path.join(dir, 'a.json')),
    /benchmark run file .*a\.json: is a folder, expected a run's JSON file/,
  );
  fs.writeFileSync(path.join(dir, 'b.json'), '{"loss": ');
  assert.throws(
    () => readBenchmarkRun(path.join(dir, 'b.json')),
    /benchmark run file .*b\.json: not readable JSON .*; delete it to train that run again/,
  );
  fs.writeFileSync(path.join(dir, 'c.json'), '{}');
  assert.throws(() => readBenchmarkRun(path.join(dir, 'c.json')), /c\.json: loss must be a loss name, got nothing/);
  const noRoc = { ...r, roc: undefined };
  fs.writeFileSync(path.join(dir, 'd.json'), JSON.stringify(noRoc));
  assert.throws(
    () => readBenchmarkRun(path.join(dir, 'd.json')),
    /d\.json: roc must hold far and tar lists of one length/,
  );
  fs.writeFileSync(path.join(dir, 'e.json'), JSON.stringify({ ...r, rank1: 'high' }));
  assert.throws(() => loadBenchmarkResults(dir), /rank1 must be a finite number, got "high"|a\.json: is a folder/);
  fs.rmSync(dir, { recursive: true });
});

test('ABLATION_BUDGET is the budget the shipped ablation was run with: every run in benchmark/ablation/runs is found, none trained', async () => {
  const dir = path.join(ROOT, 'benchmark', 'ablation', 'runs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  const lines: string[] = [];
  const { rows, results } = await ml.runAblation({
    base: ml.ABLATION_BUDGET,
    dir,
    finishedOnly: true,
    log: (l) => lines.push(l),
  });
  assert.equal(
    results.length,
    files.length,
    `found ${results.length} of the ${files.length} shipped runs:\n${lines.join('\n')}`,
  );
  assert.ok(!lines.some((l) => /not trained/.test(l)), lines.join('\n'));
  assert.equal(
    rows.length,
    ml.ABLATION_VARIANTS.reduce((a, v) => a + v.losses.length, 0),
  );
  assert.ok(rows.every((r) => r.runs === 1));
  // The report in docs/ablation.md was written from the same runs.
  const md = fs.readFileSync(path.join(ROOT, 'docs', 'ablation.md'), 'utf8');
  assert.ok(md.includes(ml.ablationMarkdown(rows)), 'docs/ablation.md holds the table of these runs');
});

test('the face recipe without a neck layout is the earlier relu-bn one: the key of the committed 2-epoch runs, and the relu-bn model', () => {
  // As the CLI builds it with --neck-layout relu-bn: the recipe's layout left out.
  const budget = {
    seeds: [1, 2, 3],
    identities: undefined,
    seenFraction: 0.8,
    backbone: 'reference' as const,
    dim: 128,
    epochs: 2,
    maxStepsPerEpoch: undefined,
    batch: 128,
  };
  const { neckLayout, ...legacy } = ml.BENCHMARK_RECIPES.face;
  assert.equal(neckLayout, 'bn-relu', 'the face recipe trains the bn-relu layout');
  const config = { losses: ['arcface'], ...budget, ...legacy, data: 'full' } as ml.BenchmarkConfig;
  const key = configKey(config);
  assert.ok(
    fs.existsSync(path.join(ROOT, 'benchmark', 'runs', `arcface-seed1-${key}.json`)),
    `no committed run under key ${key}: the legacy configuration's key changed`,
  );
  assert.notEqual(configKey({ ...config, neckLayout: 'bn-relu' }), key);
  const split = syntheticBenchmarkSplit({ ...config, identities: 20 }, 4);
  for (const [layout, want] of [
    [undefined, 'relu-bn'],
    ['bn-relu', 'bn-relu'],
    ['bn2d', 'bn2d'],
  ] as const) {
    const run = ml.benchmarkRun({ ...config, neckLayout: layout }, split, { loss: 'arcface', seed: 1 });
    assert.equal(run.trainOptions.backbone?.neckLayout, want, `config neckLayout ${layout}`);
    run.model.dispose();
    run.loss.dispose();
  }
  assert.throws(
    () => ml.benchmarkRun({ ...config, backbone: 'lenetpp', neckLayout: 'bn2d' }, split, { loss: 'arcface', seed: 1 }),
    /benchmark: neckLayout "bn2d" applies to the reference backbone with the neck, not lenetpp/,
  );
});

test('a benchmark run killed mid-run resumes at the epoch it reached, and its result equals an uninterrupted run (resume is bit-identical on the same backend)', async () => {
  const args = ['--losses', 'arcface', '--epochs', '3', '--max-steps', '15'];
  const whole = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-bench-whole-'));
  const a = bench([...args, '--out', whole]);
  assert.equal(a.status, 0, a.stderr);
  const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-bench-killed-'));
  const partialRoot = path.join(broken, 'runs', 'partial');
  // Start it, wait for the checkpoint of epoch 1 (or 2), and kill it there: no chance to clean up.
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'benchmark.js'), ...args, '--out', broken], {
    cwd: ROOT,
    env: { ...process.env, MARGIN_LAB_QUICK: '1' },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let killedAt = 0;
  while (child.exitCode === null && !killedAt) {
    await new Promise((r) => setTimeout(r, 50));
    if (!fs.existsSync(partialRoot)) continue;
    for (const d of fs.readdirSync(partialRoot)) {
      const f = path.join(partialRoot, d, 'checkpoint.json');
      try {
        const epoch = JSON.parse(fs.readFileSync(f, 'utf8')).epoch as number;
        if (epoch >= 1 && epoch < 3) {
          child.kill('SIGKILL');
          killedAt = epoch;
        }
      } catch {
        // not written yet (the checkpoint's rename is atomic; the file may simply not exist)
      }
    }
  }
  await exited;
  assert.ok(killedAt >= 1, 'the run finished before it could be killed mid-run');
  assert.deepEqual(
    fs.readdirSync(path.join(broken, 'runs')).filter((f) => f.endsWith('.json')),
    [],
    'a killed run wrote no result',
  );
  const b = bench([...args, '--out', broken]);
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, new RegExp(`arcface seed 1: resuming from epoch ${killedAt} of 3`));
  assert.doesNotMatch(b.stdout, /epoch 1\/3/, 'the resumed run trained its first epoch again');
  assert.ok(!fs.existsSync(path.join(partialRoot)) || fs.readdirSync(partialRoot).length === 0, 'partial run left');
  const result = (dir: string) => {
    const f = fs.readdirSync(path.join(dir, 'runs')).find((x) => x.endsWith('.json'))!;
    const { trainSeconds, ...rest } = JSON.parse(fs.readFileSync(path.join(dir, 'runs', f), 'utf8'));
    assert.ok(trainSeconds > 0);
    return rest;
  };
  assert.deepEqual(result(broken), result(whole));
});

test('npm run benchmark -- --budgets, quick mode: every (loss, budget) its own run, report, CSV and figures; a partial study says so; flags that do not apply are refused', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-budgets-'));
  const args = ['--losses', 'softmax,arcface', '--max-steps', '4', '--out', out];
  const r = bench(['--budgets', '1,2', ...args]);
  assert.equal(r.status, 0, r.stderr);
  const md = fs.readFileSync(path.join(out, 'convergence.md'), 'utf8');
  assert.match(md, /\*\*quick mode\*\*/);
  assert.match(md, /\*\*Complete\*\*: all 4 runs have finished\./);
  assert.match(md, /Each budget is its own run with its own warm-up and cosine schedule/);
  assert.match(md, /^\| TAR@1e-4 \(%\) \| 1 ep \| 2 ep \|$/m);
  assert.match(
    md,
    /^\| arcface \| 2 \| 1 \| \d+\.\d{3} \| \d+\.\d\d \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+\.\d min \|$/m,
  );
  assert.match(
    md,
    /## Where it settles\n\n(Every loss's TAR@1e-4 moves by less than 1 point from the previous budget at \*\*2 epochs\*\*|\*\*Not settled\*\* by 2 epochs: between the last two finished budgets, )/,
  );
  assert.match(md, /^\| 2 \| rank-1 \| (softmax > arcface|arcface > softmax) \|$/m);
  // Each budget is a separate run file (its own configuration key), none shared between budgets.
  const files = fs.readdirSync(path.join(out, 'runs')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 4, files.join(', '));
  assert.equal(new Set(files.map((f) => f.split('-').at(-1))).size, 2, 'one configuration key per budget');
  assert.ok(!fs.existsSync(path.join(out, 'runs', 'partial')), 'finished runs leave no partial folder');
  // A budget's runs are the benchmark's runs at that many epochs (the same configuration key).
  const plain = bench(['--epochs', '2', ...args]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /2 runs \(2 losses × 1 seeds\), 2 already done/);
  const csv = fs.readFileSync(path.join(out, 'convergence.csv'), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'loss,epochs,runs,finalTrainLoss,finalTrainAccuracy,tar1e3,tar1e4,rank1,dir1e2,trainSeconds');
  assert.equal(csv.length, 5);
  const html = fs.readFileSync(path.join(out, 'convergence.html'), 'utf8');
  for (const t of [
    'TAR @ FAR = 1e-4 on unseen syllables by budget',
    'Rank-1 identification',
    'Final training loss by budget',
  ])
    assert.ok(html.includes(t), t);
  // A study with a budget not trained yet, reported from the finished runs: partial, and says which.
  const partial = bench(['--budgets', '1,2,3', '--finished-only', ...args]);
  assert.equal(partial.status, 0, partial.stderr);
  const pmd = fs.readFileSync(path.join(out, 'convergence.md'), 'utf8');
  assert.match(pmd, /\*\*Partial\*\*: 4 of 6 runs have finished/);
  assert.match(pmd, /^\| softmax \| 3 \| 0 \| not run yet \|/m);
  assert.match(pmd, /^\| 3 \| TAR@1e-4 \| no runs yet \|$/m);
  // The verdict's horizon is the largest budget every loss has finished, not the one still training.
  assert.doesNotMatch(pmd, /by 3 epochs/);
  assert.doesNotMatch(partial.stdout, /epoch 1\/3/, '--finished-only trained a run');
  for (const [extra, msg] of [
    [['--epochs', '4'], /--epochs does not apply with --budgets: each budget is its own number of epochs/],
    [['--twin'], /--twin does not apply with --budgets/],
  ] as const) {
    const bad = bench(['--budgets', '1,2', ...extra, ...args]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, msg);
  }
  assert.match(bench(['--budgets', '2,1', ...args]).stderr, /--budgets 2,1: the budgets must increase/);
  assert.match(bench(['--budgets', '1,x', ...args]).stderr, /--budgets: "x" is not a whole number of epochs ≥ 1/);
  assert.match(bench(['--ablation', '--budgets', '1,2']).stderr, /--budgets does not apply with --ablation/);
});

test('settledBudget: the smallest budget where every loss moves by less than a point; the losses still moving otherwise', () => {
  const row = (loss: ml.LossName, epochs: number, tar1e4: number | null, runs = 1) => ({
    loss,
    epochs,
    runs,
    tar1e4,
    tar1e3: null,
    rank1: null,
    dir1e2: null,
    finalTrainLoss: null,
    finalTrainAccuracy: null,
    trainSeconds: null,
  });
  /** A study from TAR@1e-4 per loss at budgets 2, 4, 8, … (null: that run has not finished). */
  const study = (tars: Partial<Record<ml.LossName, Array<number | null>>>) =>
    Object.entries(tars).flatMap(([loss, ts]) =>
      ts!.map((t, i) => row(loss as ml.LossName, 2 ** (i + 1), t, t === null ? 0 : 1)),
    );
  const settles = settledBudget(study({ arcface: [0.7, 0.8, 0.805], softmax: [0.72, 0.75, 0.755] }));
  assert.equal(settles.budget, 8);
  assert.deepEqual(settles.moving, []);
  assert.equal(settles.complete, true);
  const moving = settledBudget(study({ arcface: [0.7, 0.8], softmax: [0.72, 0.725] }));
  assert.equal(moving.budget, null);
  assert.deepEqual(moving.moving, ['arcface']);
  assert.ok(Math.abs(moving.lastStep.arcface! - 10) < 1e-9);
  // A budget where one loss has no run yet is not judged.
  const partial = settledBudget(study({ arcface: [0.7, 0.705], softmax: [0.72, null] }));
  assert.equal(partial.budget, null);
  assert.equal(partial.complete, false);
  // The verdict's horizon: the largest budget every loss has finished (4), not one still training (8).
  const verdict = settlementVerdict(study({ arcface: [0.7, 0.8, 0.85], softmax: [0.72, 0.725, null] }));
  assert.equal(
    verdict,
    '**Not settled** by 4 epochs: between the last two finished budgets, arcface (+10.0 points) still moves by 1 point or more.',
  );
});
