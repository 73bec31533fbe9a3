import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as ml from 'margin-lab';
import { spreadDirections } from 'margin-lab/dist/losses/init';

const dot = (a: number[], b: number[]) => a.reduce((s, x, k) => s + x * b[k], 0);
const pairCosines = (V: number[][]) => V.flatMap((v, i) => V.slice(i + 1).map((w) => dot(v, w)));

test('spreadDirections: unit vectors, a regular polygon in 2-D', () => {
  const V = spreadDirections(2, 8, 7);
  assert.equal(V.length, 8);
  for (const v of V) assert.ok(Math.abs(Math.hypot(...v) - 1) < 1e-12);
  for (let c = 0; c < 8; c++) assert.ok(Math.abs(dot(V[c], V[(c + 1) % 8]) - Math.cos(Math.PI / 4)) < 1e-12);
});

test('spreadDirections: the regular simplex and the octahedron in 3-D', () => {
  // Four directions in 3-D: every pair at cos = −1/3 (tetrahedron).
  for (const c of pairCosines(spreadDirections(3, 4, 1))) assert.ok(Math.abs(c + 1 / 3) < 2e-3, `cos ${c}`);
  // Six: the octahedron, nearest pairs at 90°.
  const oct = pairCosines(spreadDirections(3, 6, 2));
  assert.ok(Math.max(...oct) < 0.01, `largest pair cosine ${Math.max(...oct)}`);
  // Eight in 3-D: no two closer than 70° (the best known packing has 74.9°; random starts often < 30°).
  const eight = pairCosines(spreadDirections(3, 8, 3));
  assert.ok(Math.max(...eight) < Math.cos((70 * Math.PI) / 180), `largest pair cosine ${Math.max(...eight)}`);
  // Many classes: the golden-spiral start keeps 200 directions at least 12° apart (the best known
  // spacing is about 15°; 200 random directions typically have a pair within 1°).
  const many = pairCosines(spreadDirections(3, 200, 4));
  assert.ok(Math.max(...many) < Math.cos((12 * Math.PI) / 180), `largest pair cosine ${Math.max(...many)}`);
});

test('spreadDirections: deterministic for a seed, different across seeds, argument errors', () => {
  assert.deepEqual(spreadDirections(3, 5, 11), spreadDirections(3, 5, 11));
  assert.notDeepEqual(spreadDirections(3, 5, 11), spreadDirections(3, 5, 12));
  assert.deepEqual(spreadDirections(1, 3), [[1], [-1], [1]]);
  assert.throws(() => spreadDirections(0, 3), /dim must be a positive integer, got 0/);
  assert.throws(() => spreadDirections(3, 2.5), /count must be a positive integer, got 2.5/);
});

test('heads start spread in 2-D and 3-D, random above, with the Glorot column length', () => {
  const cols = (W: number[][]) => W[0].map((_, c) => W.map((row) => row[c]));
  const arc2 = ml.arcFace({ numClasses: 8, embeddingDim: 2, seed: 5 });
  const W2 = cols(ml.headWeights(arc2));
  const len = Math.sqrt((2 * 2) / (2 + 8));
  for (const w of W2) assert.ok(Math.abs(Math.hypot(...w) - len) < 1e-6);
  const unit = W2.map((w) => w.map((x) => x / len));
  assert.ok(Math.abs(Math.max(...pairCosines(unit)) - Math.cos(Math.PI / 4)) < 1e-6);
  // 16-D: Glorot-normal, so the column lengths differ.
  const arc16 = ml.arcFace({ numClasses: 8, embeddingDim: 16, seed: 5 });
  const lens = cols(ml.headWeights(arc16)).map((w) => Math.hypot(...w));
  assert.ok(Math.max(...lens) - Math.min(...lens) > 1e-3);
  // Asked for: normal in 2-D, spread in 16-D.
  const n2 = cols(ml.headWeights(ml.normFace({ numClasses: 8, embeddingDim: 2, seed: 5, init: 'normal' })));
  assert.notDeepEqual(
    n2.map((w) => w.map((x) => +x.toFixed(5))),
    W2.map((w) => w.map((x) => +x.toFixed(5))),
  );
  const s16 = cols(ml.headWeights(ml.cosFace({ numClasses: 4, embeddingDim: 16, seed: 5, init: 'spread' })));
  const u16 = s16.map((w) => w.map((x) => x / Math.hypot(...w)));
  for (const c of pairCosines(u16)) assert.ok(Math.abs(c + 1 / 3) < 2e-3, `cos ${c}`);
  arc2.dispose();
  arc16.dispose();
});

test('init: bad values and init with weights are refused, naming the loss and value', () => {
  assert.throws(
    () => ml.arcFace({ numClasses: 3, embeddingDim: 2, init: 'uniform' as ml.WeightInit }),
    /arcface: init must be 'normal' or 'spread', got "uniform"/,
  );
  assert.throws(
    () =>
      ml.sphereFace({
        numClasses: 2,
        embeddingDim: 2,
        init: 'spread',
        weights: [
          [1, 0],
          [0, 1],
        ],
      }),
    /sphereface: give weights or init, not both/,
  );
});

test("createLoss passes init through (the CLI's --init)", () => {
  const cols = (W: number[][]) => W[0].map((_, c) => W.map((row) => row[c]));
  const spread = ml.createLoss('arcface', { numClasses: 4, embeddingDim: 16, init: 'spread' }) as ml.ClassifierHead;
  const unit = cols(ml.headWeights(spread)).map((w) => w.map((x) => x / Math.hypot(...w)));
  for (const c of pairCosines(unit)) assert.ok(Math.abs(c + 1 / 3) < 2e-3, `cos ${c}`);
  assert.throws(
    () => ml.createLoss('cosface', { numClasses: 4, embeddingDim: 2, init: 'even' }),
    /cosface: init must be 'normal' or 'spread', got "even"/,
  );
  spread.dispose();
});
