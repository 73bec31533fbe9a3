import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { meetsBar } from 'margin-lab/dist/cli/flagship';
import { ROOT } from './helpers/paths';

function flagship(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'flagship.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, ...env },
  });
}

test('ownWeightAgreement on a hand-made example', () => {
  // W: class 0 along x, class 1 along y (lengths 2 and 1: only directions count).
  const W = [
    [2, 0],
    [0, 1],
  ];
  const points = [
    [1, 0], // class 0, cos 1
    [1, 1], // class 0, cos √½; nearest weight: a tie, the first (class 0) wins
    [-1, 0], // class 1, cos 0; class 0 has cos −1, so class 1 still wins
    [0, -3], // class 1, cos −1: far side, misclassified
  ];
  const a = ml.ownWeightAgreement(points, [0, 0, 1, 1], W);
  assert.ok(Math.abs(a.classMeanCos[0] - (1 + Math.SQRT1_2) / 2) < 1e-12);
  assert.ok(Math.abs(a.classMeanCos[1] - -0.5) < 1e-12);
  assert.ok(Math.abs(a.meanCos - (1 + Math.SQRT1_2 + 0 - 1) / 4) < 1e-12);
  assert.deepEqual(a.farSide, [1]);
  // Correct: point 0, point 1 (tie to class 0), point 2 (cos 0 beats −1); point 3: class 0 has cos 0 > −1.
  assert.equal(a.accuracy, 3 / 4);
  assert.throws(
    () => ml.ownWeightAgreement(points, [0, 0, 2, 1], W),
    /label 2 at index 2 is not a class of W \(0\.\.1\)/,
  );
  assert.throws(() => ml.ownWeightAgreement([[0, 0]], [0], W), /point 0 or the weight of class 0 is zero/);
  assert.throws(() => ml.ownWeightAgreement(points, [0, 0], W), /4 points but 2 labels/);
});

test('the flagship bar: mean cosine ≥ 0.9 and at most one class in ten on the far side', () => {
  const stats = (meanCos: number, far: number, classes: number) => ({
    meanCos,
    classMeanCos: new Array(classes).fill(meanCos),
    farSide: Array.from({ length: far }, (_, i) => i),
    accuracy: 1,
  });
  assert.equal(meetsBar(stats(0.9, 0, 8)), true);
  assert.equal(meetsBar(stats(0.899, 0, 8)), false);
  assert.equal(meetsBar(stats(0.95, 1, 8)), false);
  assert.equal(meetsBar(stats(0.95, 1, 10)), true);
  assert.equal(meetsBar(stats(0.95, 2, 10)), false);
});

test('npm run flagship: prints the table row by row and writes the report (quick mode)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-flagship-'));
  const out = path.join(dir, 'flagship.md');
  const r = flagship(['--losses', 'arcface', '--dims', '2', '--seeds', '1', '--out', out], { MARGIN_LAB_QUICK: '1' });
  assert.equal(r.status, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith('| arcface | 2 | 1 |'));
  assert.ok(row, r.stdout);
  const cells = row.split('|').map((c) => c.trim());
  const meanCos = Number(cells[4]);
  const lowest = Number(cells[5]);
  const far = /^(\d) of 8$/.exec(cells[6]);
  assert.ok(far, `far side: ${cells[6]}`);
  // The row is consistent with itself: the lowest class mean is at most the mean, and the bar
  // column and the summary line say what meetsBar says of these numbers.
  assert.ok(Number.isFinite(meanCos) && lowest <= meanCos + 5e-4, row);
  const met = meetsBar({
    meanCos,
    classMeanCos: new Array(8).fill(meanCos),
    farSide: Array.from({ length: Number(far[1]) }, (_, i) => i),
    accuracy: 1,
  });
  assert.equal(cells[8], met ? 'met' : '**missed**', row);
  assert.match(r.stdout, new RegExp(`\\n${met ? 1 : 0} of 1 runs meet the bar`));
  // Quick mode's MLP on small data learns the pipeline: the features point at their own weights.
  assert.ok(meanCos > 0.5, `quick mode's mean cosine ${meanCos}: the quick run did not train`);
  assert.match(r.stdout, /quick mode/);
  const md = fs.readFileSync(out, 'utf8');
  assert.match(md, /\| loss \| dim \| seed \| mean cos/);
  assert.ok(md.includes(row), 'the report holds the printed row');
});

test('npm run flagship: bad flags name the value and what is expected', () => {
  const dims = flagship(['--dims', '4']);
  assert.equal(dims.status, 2);
  assert.match(dims.stderr, /--dims "4": expected 2 or 3/);
  const losses = flagship(['--losses', 'softmax']);
  assert.equal(losses.status, 2);
  assert.match(
    losses.stderr,
    /--losses: "softmax" is not a flagship head; expected normface, sphereface, cosface, arcface, curricularface/,
  );
  const init = flagship(['--init', 'uniform']);
  assert.equal(init.status, 2);
  assert.match(init.stderr, /--init "uniform": expected spread or normal/);
  const unknown = flagship(['--epochs', '3']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /epochs/);
});

test('formatWeightAgreement names the far-side classes', () => {
  const line = ml.formatWeightAgreement(
    { meanCos: 0.5, classMeanCos: [0.9, -0.1, 0.7], farSide: [1], accuracy: 0.75 },
    ['zero', 'one', 'two'],
  );
  assert.equal(
    line,
    'mean cos(feature, own class weight) 0.500, lowest class -0.100; on the far side of their weight: one (of 3 classes); nearest-weight accuracy 75.0 %',
  );
});

test('npm run flagship: a repeated dimension, seed or loss is an error, not a double count', () => {
  for (const [flag, value, item] of [
    ['--dims', '2,2', '2'],
    ['--seeds', '1,01', '01'],
    ['--losses', 'arcface,arcface', 'arcface'],
  ]) {
    const r = flagship([flag, value]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`${flag} ${value}: "${item}" is repeated`));
  }
});

test('the flagship statistic is high where features sit on their own class weight and low where they sit on the far side', () => {
  const W = [
    [1, 0, -1, 0],
    [0, 1, 0, -1],
  ]; // 4 classes at 0°, 90°, 180°, 270° (columns)
  const angle = (c: number) => (Math.PI / 2) * c;
  const labels = Array.from({ length: 40 }, (_, i) => i % 4);
  const r = new ml.Rng(4);
  const near = labels.map((c) => {
    const t = angle(c) + (r.next() - 0.5) * 0.2; // within ±0.1 rad of the own weight
    return [Math.cos(t), Math.sin(t)];
  });
  const far = labels.map((c) => {
    const t = angle(c) + Math.PI + (r.next() - 0.5) * 0.2; // opposite the own weight
    return [Math.cos(t), Math.sin(t)];
  });
  const hi = ml.ownWeightAgreement(near, labels, W);
  const lo = ml.ownWeightAgreement(far, labels, W);
  assert.ok(hi.meanCos > 0.99, `near: ${hi.meanCos}`);
  assert.deepEqual(hi.farSide, []);
  assert.equal(hi.accuracy, 1);
  assert.equal(meetsBar(hi), true);
  assert.ok(lo.meanCos < -0.99, `far: ${lo.meanCos}`);
  assert.deepEqual(lo.farSide, [0, 1, 2, 3]);
  assert.equal(lo.accuracy, 0);
  assert.equal(meetsBar(lo), false);
});
