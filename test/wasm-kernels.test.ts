/**
 * The faster wasm kernels (src/backend/wasm-fast-kernels.ts) against the cpu backend, on random
 * inputs of several shapes, including the configurations that go to the stock kernel; and the
 * multi-threaded wasm build in Node (src/backend/wasm-threads.ts).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { tf, useBestBackend } from 'margin-lab';
import { requestedThreads } from 'margin-lab/dist/backend';
import { stockWasmKernel } from 'margin-lab/dist/backend/wasm-fast-kernels';
import { randomArray, relError } from './helpers/numeric';
import { ROOT } from './helpers/paths';

const TOL = 1e-5;

/** Runs `fn` on cpu, then on wasm, and returns both results. */
async function onBoth<T>(fn: () => T): Promise<{ ref: T; got: T }> {
  await tf.setBackend('cpu');
  const ref = fn();
  await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm' } });
  const got = fn();
  return { ref, got };
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

test('the four kernels are replaced on wasm, and the stock ones are kept for the cases they do not take', async () => {
  await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm' } });
  for (const name of ['Conv2DBackpropInput', 'BatchMatMul', 'MaxPoolGrad', 'Sum']) {
    const ours = tf.getKernel(name, 'wasm');
    assert.ok(ours, `${name} registered on wasm`);
    const stock = stockWasmKernel(name);
    assert.ok(stock, `the stock ${name} is kept`);
    assert.notEqual(ours.kernelFunc, stock, `${name} is ours, not the stock kernel`);
  }
});

interface ConvInputCase {
  x: [number, number, number, number];
  k: [number, number];
  cout: number;
  strides: number;
  pad: 'same' | 'valid' | number;
}

test('Conv2DBackpropInput matches cpu: stride 1 (ours) and stride 2 / numeric padding (stock)', async () => {
  const cases: ConvInputCase[] = [
    { x: [2, 7, 6, 3], k: [3, 3], cout: 4, strides: 1, pad: 'same' },
    { x: [2, 7, 6, 3], k: [3, 3], cout: 4, strides: 1, pad: 'valid' },
    { x: [3, 8, 8, 1], k: [5, 5], cout: 2, strides: 1, pad: 'same' },
    { x: [1, 9, 5, 2], k: [2, 4], cout: 3, strides: 1, pad: 'same' },
    { x: [4, 6, 7, 5], k: [1, 3], cout: 6, strides: 1, pad: 'valid' },
    { x: [16, 14, 14, 32], k: [3, 3], cout: 64, strides: 1, pad: 'same' },
    { x: [2, 9, 9, 3], k: [3, 3], cout: 4, strides: 2, pad: 'same' },
    { x: [2, 8, 8, 2], k: [3, 3], cout: 3, strides: 1, pad: 1 },
  ];
  for (const [i, c] of cases.entries()) {
    const fShape = [c.k[0], c.k[1], c.x[3], c.cout];
    const run = () =>
      tf.tidy(() => {
        const f = tf.tensor4d(randomArray(size(fShape), 10 + i), fShape as [number, number, number, number]);
        const probe = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, f, c.strides, c.pad);
        const dy = tf.tensor4d(randomArray(size(probe.shape), 20 + i), probe.shape);
        return tf.conv2dTranspose(dy, f, c.x, c.strides, c.pad).dataSync() as Float32Array;
      });
    const { ref, got } = await onBoth(run);
    const e = relError(got, ref);
    assert.ok(e <= TOL, `case ${JSON.stringify(c)}: relative error ${e}`);
  }
});

test('BatchMatMul with transposeA / transposeB matches cpu, 2-D and batched', async () => {
  const cases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [64, 40], b: [64, 30], ta: true, tb: false },
    { a: [40, 64], b: [30, 64], ta: false, tb: true },
    { a: [64, 40], b: [30, 64], ta: true, tb: true },
    { a: [3, 17, 9], b: [3, 17, 11], ta: true, tb: false },
    { a: [2, 9, 17], b: [2, 11, 17], ta: false, tb: true },
    { a: [128, 3136], b: [128, 128], ta: true, tb: false },
    { a: [128, 128], b: [3136, 128], ta: false, tb: true },
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
  ];
  for (const [i, c] of cases.entries()) {
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor(randomArray(size(c.a), 30 + i), c.a);
        const b = tf.tensor(randomArray(size(c.b), 40 + i), c.b);
        return tf.matMul(a, b, c.ta, c.tb).dataSync() as Float32Array;
      });
    const { ref, got } = await onBoth(run);
    const e = relError(got, ref);
    assert.ok(e <= TOL, `case ${JSON.stringify(c)}: relative error ${e}`);
  }
});

test('MaxPoolGrad matches cpu, including ties after ReLU and overlapping / padded windows', async () => {
  const cases: Array<{ x: number[]; pool: number; strides: number; pad: 'same' | 'valid'; relu: boolean }> = [
    { x: [4, 28, 28, 8], pool: 2, strides: 2, pad: 'valid', relu: true },
    { x: [2, 14, 14, 16], pool: 2, strides: 2, pad: 'valid', relu: false },
    { x: [2, 7, 7, 3], pool: 2, strides: 2, pad: 'same', relu: true },
    { x: [3, 9, 8, 2], pool: 3, strides: 1, pad: 'same', relu: false },
    { x: [2, 11, 10, 4], pool: 3, strides: 2, pad: 'same', relu: true },
    { x: [1, 5, 5, 1], pool: 3, strides: 2, pad: 'valid', relu: false },
  ];
  for (const [i, c] of cases.entries()) {
    const run = () =>
      tf.tidy(() => {
        let x = tf.tensor4d(randomArray(size(c.x), 50 + i), c.x as [number, number, number, number]);
        if (c.relu) x = tf.relu(x);
        const out = tf.maxPool(x, c.pool, c.strides, c.pad);
        const dy = tf.tensor4d(randomArray(size(out.shape), 60 + i), out.shape);
        return tf
          .grad((t: tf.Tensor) =>
            tf
              .maxPool(t as tf.Tensor4D, c.pool, c.strides, c.pad)
              .mul(dy)
              .sum(),
          )(x)
          .dataSync() as Float32Array;
      });
    const { ref, got } = await onBoth(run);
    const e = relError(got, ref);
    assert.ok(e <= TOL, `case ${JSON.stringify(c)}: relative error ${e}`);
  }
});

test('Sum matches cpu: leading axes (ours), other axes, all axes and int32 (stock)', async () => {
  const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean; dtype?: 'int32' }> = [
    { shape: [16, 14, 14, 32], axis: [0, 1, 2], keepDims: false },
    { shape: [16, 14, 14, 32], axis: [-4, -3, -2], keepDims: true },
    { shape: [128, 10], axis: 0, keepDims: false },
    { shape: [7, 5, 3], axis: [1, 0], keepDims: false },
    { shape: [7, 5, 3], axis: [0, 2], keepDims: false },
    { shape: [7, 5, 3], axis: [2], keepDims: true },
    { shape: [7, 5, 3], axis: [0, 1, 2], keepDims: false },
    { shape: [6, 4], axis: 0, keepDims: false, dtype: 'int32' },
  ];
  for (const [i, c] of cases.entries()) {
    const run = () =>
      tf.tidy(() => {
        const vals = randomArray(size(c.shape), 70 + i).map((v) => (c.dtype === 'int32' ? Math.round(v * 100) : v));
        const t = tf.tensor(vals, c.shape, c.dtype ?? 'float32');
        const r = tf.sum(t, c.axis, c.keepDims);
        return { shape: r.shape, values: r.dataSync() as Float32Array };
      });
    const { ref, got } = await onBoth(run);
    assert.deepEqual(got.shape, ref.shape, `case ${JSON.stringify(c)}: shape`);
    const e = relError(got.values, ref.values);
    assert.ok(e <= TOL, `case ${JSON.stringify(c)}: relative error ${e}`);
  }
});

test('BatchNorm gradients on wasm match cpu (x, γ, β, and through the batch statistics), with no Tile kernel', async () => {
  for (const [i, shape] of [
    [4, 5, 6, 3],
    [16, 8],
  ].entries()) {
    const c = shape[shape.length - 1];
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor(randomArray(size(shape), 40 + i), shape);
        const g = tf.tensor1d(randomArray(c, 50 + i));
        const b = tf.tensor1d(randomArray(c, 60 + i));
        const dy = tf.tensor(randomArray(size(shape), 70 + i), shape);
        const axes = shape.slice(0, -1).map((_, k) => k);
        // As tfjs-layers trains a BN layer: the batch's own moments, so every gradient path runs.
        const f = (v: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
          const m = tf.moments(v, axes);
          return tf.sum(tf.mul(tf.batchNorm(v, m.mean, m.variance, beta, gamma, 1e-5), dy));
        };
        return tf
          .grads(f)([x, g, b])
          .map((t) => t.dataSync() as Float32Array);
      });
    const { ref, got } = await onBoth(run);
    ref.forEach((r, k) => {
      const e = relError(got[k], r);
      assert.ok(e <= 1e-4, `shape [${shape}], gradient ${k}: relative error ${e}`);
    });
  }
  await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm' } });
  const info = await tf.profile(() =>
    tf.grad((v: tf.Tensor) => tf.sum(tf.batchNorm(v, tf.zeros([3]), tf.ones([3]), tf.zeros([3]), tf.ones([3]))))(
      tf.ones([2, 2, 2, 3]),
    ),
  );
  assert.ok(!info.kernelNames.includes('Tile'), info.kernelNames.join(', '));
  tf.dispose(info.result as tf.Tensor);
});

test('MARGIN_LAB_THREADS: parsed strictly, defaults to the cores (at most 8)', () => {
  assert.equal(requestedThreads({ MARGIN_LAB_THREADS: '1' }), 1);
  assert.equal(requestedThreads({ MARGIN_LAB_THREADS: '4' }), 4);
  const def = requestedThreads({});
  assert.ok(def >= 1 && def <= 8, `default ${def}`);
  for (const bad of ['0', '9', 'two', '1.5', '-2']) {
    assert.throws(
      () => requestedThreads({ MARGIN_LAB_THREADS: bad }),
      new RegExp(
        `MARGIN_LAB_THREADS=${JSON.stringify(bad).replace(/[.]/g, '\\.')} is not a thread count; expected an integer from 1 to 8`,
      ),
    );
  }
});

/** Starts wasm in a fresh Node with MARGIN_LAB_THREADS, trains 3 steps, prints report and loss. */
function threadedRun(threads: string) {
  const script = `
    const { tf, useBestBackend, referenceNet, arcFace } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
    (async () => {
      const r = await useBestBackend({ print: false });
      const model = referenceNet({ name: 'reference', inputShape: [28, 28, 1], embeddingDim: 8, seed: 3 });
      const head = arcFace({ numClasses: 5, embeddingDim: 8, s: 16, m: 0.3 });
      const x = tf.randomUniform([32, 28, 28, 1], 0, 1, 'float32', 7);
      const y = Array.from({ length: 32 }, (_, i) => i % 5);
      const opt = tf.train.sgd(0.01);
      const vars = [...model.trainableWeights.map((w) => w.read()), ...head.trainableVariables];
      const losses = [];
      for (let i = 0; i < 3; i++) { const c = opt.minimize(() => head.compute(model.apply(x, { training: true }), y), true, vars); losses.push(c.dataSync()[0]); c.dispose(); }
      console.log(JSON.stringify({ line: r.line, threads: r.threads, losses }));
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
  return spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm', MARGIN_LAB_THREADS: threads },
  });
}

test('the threaded wasm build runs in Node: reported thread count, same training as one thread, and the process exits', () => {
  const one = threadedRun('1');
  assert.equal(one.status, 0, one.stderr);
  const two = threadedRun('2');
  assert.equal(two.status, 0, `status ${two.status} signal ${two.signal} (a hang ends in SIGTERM): ${two.stderr}`);
  const a = JSON.parse(one.stdout.trim().split('\n').pop()!);
  const b = JSON.parse(two.stdout.trim().split('\n').pop()!);
  assert.equal(a.threads, 1);
  assert.match(
    a.line,
    /wasm on CPU \(.*\), 1 thread \[@tensorflow\/tfjs-backend-wasm, SIMD build, forced by MARGIN_LAB_BACKEND\]/,
  );
  assert.equal(b.threads, 2);
  assert.match(
    b.line,
    /wasm on CPU \(.*\), 2 threads \[@tensorflow\/tfjs-backend-wasm, threaded SIMD build, forced by MARGIN_LAB_BACKEND\]/,
  );
  assert.ok(relError(b.losses, a.losses) <= 1e-5, `losses with 2 threads ${b.losses} vs 1 thread ${a.losses}`);
  const bad = threadedRun('0');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /MARGIN_LAB_THREADS="0" is not a thread count/);
});
