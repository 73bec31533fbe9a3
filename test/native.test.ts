/**
 * The native `tensorflow` backend (@tensorflow/tfjs-node on libtensorflow, built offline by
 * `npm run native:setup`): every loss's value and gradients against the float64 references, and
 * one training step of the benchmark's BN network against wasm. Without the backend every test
 * here skips with the reason; `MARGIN_LAB_NATIVE_REQUIRED=1` (CI) turns that into a failure.
 * The setup script's refusals are tested whether or not the backend exists.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as L from 'margin-lab';
import { tf, useBestBackend, BackendReport } from 'margin-lab';
import { rng } from './helpers/numeric';
import { checkHeadCase } from './helpers/measure';
import { headCases } from './helpers/loss-cases';
import { ROOT } from './helpers/paths';
import { stockReluGradient, withStockTensorflowKernels } from 'margin-lab/dist/backend/tensorflow-kernels';

let skipReason: string | null = null;
let report: BackendReport | null = null;

before(async () => {
  try {
    report = await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'tensorflow' } });
    console.log(`# ${report.line}`);
  } catch (e) {
    skipReason = `no native backend: ${(e as Error).message.split('\n')[0]}`;
    if (process.env.MARGIN_LAB_NATIVE_REQUIRED === '1')
      throw new Error(`MARGIN_LAB_NATIVE_REQUIRED=1, but ${skipReason}`);
  }
});

function ready(t: { skip(msg: string): void }): boolean {
  if (skipReason) {
    t.skip(skipReason);
    return false;
  }
  assert.equal(tf.getBackend(), 'tensorflow');
  return true;
}

test('native: the backend line names libtensorflow and its version', (t) => {
  if (!ready(t)) return;
  assert.match(report!.line, /^margin-lab backend: tensorflow on CPU \(.*\) via libtensorflow 2\.\d+\.\d+, oneDNN/);
});

for (const c of headCases) {
  test(`native: ${c.name} matches the float64 reference (value, d/dx, d/dW)`, async (t) => {
    if (!ready(t)) return;
    await checkHeadCase(c);
  });
}

test("native: ReLU gradient runs as the fused ReluGrad op and equals tfjs's dy·step(x)", async (t) => {
  if (!ready(t)) return;
  const x = tf.tensor2d([
    [-2, -0.5, 0, 0.5, 3],
    [1e-8, -1e-8, 7, -7, 0.25],
  ]);
  const w = tf.tensor2d([
    [1, 2, 3, 4, 5],
    [-1, -2, -3, -4, -5],
  ]);
  const f = (v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w));
  const profile = await tf.profile(() => tf.grad(f)(x));
  assert.ok(profile.kernelNames.includes('MarginLabReluGrad'), profile.kernelNames.join(', '));
  assert.ok(!profile.kernelNames.includes('Step'), 'the stock Step kernel still runs');
  const fused = tf.grad(f)(x);
  const stock = stockReluGradient(w, x);
  assert.deepEqual(Array.from(fused.dataSync()), Array.from(stock.dataSync()));
  // Through a conv net too: gradients equal the stock formula's within float rounding.
  const big = tf.randomNormal([4, 6, 6, 3], 0, 1, 'float32', 3);
  const dy = tf.randomNormal([4, 6, 6, 3], 0, 1, 'float32', 4);
  const viaRelu = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), dy)))(big);
  assert.deepEqual(Array.from(viaRelu.dataSync()), Array.from(stockReluGradient(dy, big).dataSync()));
  tf.dispose([x, w, fused, stock, big, dy, viaRelu]);
});

test('native: one step of the BN reference net + ArcFace equals wasm (loss, gradients, moving statistics)', async (t) => {
  if (!ready(t)) return;
  const batch = 16;
  const spec: L.BackboneSpec = {
    name: 'reference',
    inputShape: [16, 16, 1],
    embeddingDim: 8,
    seed: 1,
    batchNorm: true,
    neck: true,
  };
  const r = rng(4);
  const xs = Float32Array.from({ length: batch * 16 * 16 }, () => r());
  const labels = Array.from({ length: batch }, (_, i) => i % 4);
  interface Step {
    loss: number;
    grads: Float32Array[];
    moving: Float32Array[];
  }
  async function step(): Promise<Step> {
    const model = L.buildBackbone(spec);
    const head = L.arcFace({ numClasses: 4, embeddingDim: 8, s: 16, m: 0.5, seed: 3 });
    const vars = [...model.trainableWeights.map((w) => w.read() as tf.Variable), head.W];
    const x = tf.tensor4d(xs, [batch, 16, 16, 1]);
    const { value, grads } = tf.variableGrads(
      () => head.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels),
      vars,
    );
    const read = async (v: tf.Tensor) => (await v.data()) as Float32Array;
    const out = {
      loss: (await value.data())[0],
      grads: await Promise.all(vars.map((v) => read(grads[v.name]))),
      moving: await Promise.all(model.nonTrainableWeights.map((w) => read(w.read()))),
    };
    tf.dispose([x, value, ...Object.values(grads)]);
    model.dispose();
    head.dispose();
    return out;
  }
  const native = await step();
  try {
    await useBestBackend({
      print: false,
      env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm', MARGIN_LAB_THREADS: '1' },
    });
    const wasm = await step();
    assert.ok(Math.abs(native.loss - wasm.loss) <= 1e-4 * Math.abs(wasm.loss), `loss ${native.loss} vs ${wasm.loss}`);
    // The neck's first BN shift and the dense bias after it have a gradient of zero in exact
    // arithmetic (the last BN removes any shift), so each error is measured against the largest
    // gradient's norm where the reference itself is round-off.
    // The same holds for the last BN's batch mean (the moving mean after one step).
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
    const scaledError = (got: Float32Array[], want: Float32Array[], i: number) =>
      norm(got[i].map((v, k) => v - want[i][k])) / Math.max(norm(want[i]), 1e-3 * Math.max(...want.map(norm)));
    native.grads.forEach((g, i) => {
      const e = scaledError(native.grads, wasm.grads, i);
      assert.ok(e <= 1e-4, `gradient ${i} (${g.length} values): relative error ${e}`);
    });
    assert.equal(native.moving.length, 9, 'moving mean and variance of 4 BN layers, and the neck’s fixed γ');
    native.moving.forEach((_, i) => {
      const e = scaledError(native.moving, wasm.moving, i);
      assert.ok(e <= 1e-4, `moving statistic ${i}: relative error ${e}`);
    });
  } finally {
    await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'tensorflow' } });
  }
});

test('native:setup refuses a wheel of another TensorFlow major version, and a file that is no wheel, in one line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-native-'));
  const setup = (wheel: string) =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'native-setup.js'), '--wheel', wheel], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  const w3 = path.join(dir, 'tensorflow_cpu-3.0.0-cp311-cp311-manylinux_2_27_x86_64.whl');
  fs.writeFileSync(w3, 'not a zip');
  const a = setup(w3);
  assert.equal(a.status, 1);
  assert.equal(a.stderr.trim().split('\n').length, 1, a.stderr);
  assert.match(a.stderr, /is TensorFlow 3\.0\.0; tfjs-node 4\.22\.0 uses the TensorFlow 2\.x C API/);
  const other = path.join(dir, 'numpy-2.0.0-cp311.whl');
  fs.writeFileSync(other, 'x');
  const b = setup(other);
  assert.equal(b.status, 1);
  assert.match(b.stderr, /not a tensorflow-cpu wheel/);
  const c = setup(path.join(dir, 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl'));
  assert.equal(c.status, 1);
  assert.match(c.stderr, /no such file/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test("native: a run's model/model.json opens with tfjs-node's own tf.loadLayersModel('file://…') and gives the trained model's embeddings", async (t) => {
  if (!ready(t)) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-native-model-'));
  const spec: L.BackboneSpec = {
    name: 'reference',
    inputShape: [12, 12, 1],
    embeddingDim: 8,
    batchNorm: true,
    neck: true,
  };
  const r = rng(11);
  const model = L.buildBackbone(spec);
  await L.train({
    model,
    backbone: spec,
    loss: L.arcFace({ numClasses: 4, embeddingDim: 8, s: 16 }),
    data: {
      x: Float32Array.from({ length: 32 * 144 }, () => r()),
      y: Int32Array.from({ length: 32 }, (_, i) => i % 4),
      shape: [12, 12, 1],
    },
    epochs: 1,
    batchSize: 16,
    progress: 'none',
    runDir: dir,
  });
  const loaded = await tf.loadLayersModel(`file://${path.join(dir, 'model', 'model.json')}`);
  const probe = tf.tensor4d(
    Float32Array.from({ length: 3 * 144 }, (_, i) => Math.sin(i)),
    [3, 12, 12, 1],
  );
  const want = tf.tidy(() => Array.from((model.predict(probe) as tf.Tensor).dataSync()));
  const got = tf.tidy(() => Array.from((loaded.predict(probe) as tf.Tensor).dataSync()));
  probe.dispose();
  assert.equal(got.length, 24);
  assert.deepEqual(got, want);
  fs.rmSync(dir, { recursive: true });
});

/** Relative error of got against want, in the norm of the whole tensor. */
function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i] - want[i]) ** 2;
    n += want[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-12);
}

/**
 * Each weight's error against the stock path's, relative to its own norm or, for weights whose
 * reference is round-off (the neck's first BN shift and the dense bias after it have a gradient
 * of zero in exact arithmetic), to a thousandth of the largest weight's norm.
 */
function weightErrors(got: number[][], want: number[][]): number[] {
  const norm = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  const floor = 1e-3 * Math.max(...want.map(norm));
  return got.map((g, i) => norm(g.map((v, k) => v - want[i][k])) / Math.max(norm(want[i]), floor));
}

/** The kernels one call runs, by name. */
async function kernelsOf(f: () => tf.TensorContainer): Promise<string[]> {
  const info = await tf.profile(() => {
    const out = f();
    return out;
  });
  tf.dispose(info.result as tf.TensorContainer);
  return info.kernelNames;
}

/**
 * Values rounded to a few levels (many tied maxima in every pooling window): in −2..2 after a
 * ReLU (`relu`: negatives are 0, so all-zero windows too), else in −3..1 (all-negative windows).
 */
function levels(r: () => number, shape: [number, number, number, number], relu: boolean): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(
    Float32Array.from({ length: n }, () => (relu ? Math.max(0, Math.round(4 * r() - 2)) : Math.round(4 * r() - 2.5))),
    shape,
  );
}

test('native: MaxPool gradient through the argmax equals MaxPoolGrad, ties and same padding included', async (t) => {
  if (!ready(t)) return;
  const r = rng(21);
  // ReLU'd values rounded to a few levels: many windows with tied maxima, and all-zero windows.
  const x = levels(r, [2, 7, 9, 3], true);
  for (const [size, stride, pad] of [
    [2, 2, 'valid'],
    [2, 2, 'same'],
    [3, 2, 'same'],
    [3, 1, 'valid'],
  ] as const) {
    const dyShape = tf.tidy(() => tf.maxPool(x, size, stride, pad).shape);
    const dy = tf.tensor(
      Float32Array.from({ length: dyShape.reduce((a, b) => a * b, 1) }, () => r() - 0.5),
      dyShape,
    );
    const f = (v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, size, stride, pad), dy));
    const names = await kernelsOf(() => tf.grad(f)(x));
    assert.ok(names.includes('MarginLabMaxPoolGradWithArgmax'), names.join(', '));
    assert.ok(!names.includes('MaxPoolGrad'), 'the stock MaxPoolGrad still runs');
    const fused = tf.grad(f)(x);
    const stock = await withStockTensorflowKernels(() => tf.grad(f)(x));
    assert.deepEqual(
      Array.from(fused.dataSync()),
      Array.from(stock.dataSync()),
      `pool ${size}, stride ${stride}, ${pad}`,
    );
    tf.dispose([dy, fused, stock]);
  }
  x.dispose();
});

test('native: a MaxPooling2D layer keeps its argmax from the forward pass while a gradient is recorded; values and gradients equal the stock path, ties included', async (t) => {
  if (!ready(t)) return;
  const r = rng(22);
  const x = levels(r, [3, 8, 10, 4], true);
  for (const [poolSize, strides, padding] of [
    [2, 2, 'valid'],
    [3, 2, 'same'],
  ] as const) {
    const layer = tf.layers.maxPooling2d({ poolSize, strides, padding });
    const outShape = tf.tidy(() => (layer.apply(x) as tf.Tensor).shape);
    const dy = tf.tensor(
      Float32Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => r() - 0.5),
      outShape,
    );
    const f = (v: tf.Tensor) => tf.sum(tf.mul(layer.apply(v) as tf.Tensor, dy));
    const names = await kernelsOf(() => tf.grad(f)(x));
    // One search of the windows: forward with positions, backward scatters to them.
    assert.equal(names.filter((n) => n === 'MarginLabMaxPoolWithArgmax').length, 1, names.join(', '));
    assert.ok(names.includes('MarginLabMaxPoolGradWithArgmax'), names.join(', '));
    assert.ok(!names.includes('MaxPool') && !names.includes('MaxPoolGrad'), names.join(', '));
    // Inference (no tape) keeps tfjs-layers' own op.
    const inference = await kernelsOf(() => layer.apply(x) as tf.Tensor);
    assert.deepEqual(inference, ['MaxPool']);
    const before = tf.memory().numTensors;
    const fused = tf.grad(f)(x);
    const value = tf.tidy(() => layer.apply(x) as tf.Tensor);
    assert.equal(tf.memory().numTensors, before + 2, 'the positions are freed after the backward pass');
    const stock = await withStockTensorflowKernels(() => tf.grad(f)(x));
    const stockValue = await withStockTensorflowKernels(() => tf.maxPool(x, poolSize, strides, padding));
    const recorded = tf.tidy(() => {
      let v: tf.Tensor | null = null;
      tf.grad((u: tf.Tensor) => {
        v = tf.keep(layer.apply(u) as tf.Tensor);
        return tf.sum(v);
      })(x).dispose();
      return v!;
    });
    assert.deepEqual(Array.from(recorded.dataSync()), Array.from(stockValue.dataSync()), `forward, ${padding}`);
    assert.deepEqual(Array.from(value.dataSync()), Array.from(stockValue.dataSync()), `inference, ${padding}`);
    assert.deepEqual(Array.from(fused.dataSync()), Array.from(stock.dataSync()), `gradient, ${padding}`);
    tf.dispose([dy, fused, value, stock, stockValue, recorded]);
  }
  x.dispose();
});

test('native: a MaxPooling2D layer after a ReLU pools the ReLU input and applies ReLU to the pooled values; values and gradients equal the stock path, ties and all-negative windows included', async (t) => {
  if (!ready(t)) return;
  const r = rng(23);
  // Rounded values: tied maxima, windows whose maximum is 0, and windows of negatives only.
  const x = levels(r, [3, 8, 8, 4], false);
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 4], filters: 3, kernelSize: 1, useBias: false, kernelInitializer: 'ones' }),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
    ],
  });
  const dy = tf.tensor4d(
    Float32Array.from({ length: 3 * 4 * 4 * 3 }, () => r() - 0.5),
    [3, 4, 4, 3],
  );
  const kernel = model.layers[0].getWeights()[0] as tf.Variable;
  const f = () =>
    tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, dy)) as tf.Scalar, [kernel]);
  const g = (v: tf.Tensor) => tf.sum(tf.mul(model.apply(v, { training: true }) as tf.Tensor, dy));
  const info = await tf.profile(() => {
    const out = f();
    tf.dispose([out.value, ...Object.values(out.grads)]);
  });
  const shapesOf = (name: string) => info.kernels.filter((k) => k.name === name).map((k) => k.inputShapes[0]);
  // ReLU's gradient runs on the pooled tensor only, never on the full one.
  assert.deepEqual(shapesOf('MarginLabReluGrad'), [[3, 4, 4, 3]]);
  assert.deepEqual(shapesOf('MarginLabMaxPoolWithArgmax'), [[3, 8, 8, 3]]);
  const ours = f();
  const oursX = tf.grad(g)(x);
  const oursY = model.predict(x) as tf.Tensor;
  const stock = await withStockTensorflowKernels(f);
  const stockX = await withStockTensorflowKernels(() => tf.grad(g)(x));
  const stockY = await withStockTensorflowKernels(() =>
    tf.maxPool(tf.relu(tf.conv2d(x, kernel as tf.Tensor4D, 1, 'valid')), 2, 2, 'valid'),
  );
  const recorded = tf.tidy(() => {
    let v: tf.Tensor | null = null;
    tf.grad((u: tf.Tensor) => {
      v = tf.keep(model.apply(u, { training: true }) as tf.Tensor);
      return tf.sum(v);
    })(x).dispose();
    return v!;
  });
  assert.deepEqual(Array.from(recorded.dataSync()), Array.from(stockY.dataSync()), 'forward under a tape');
  assert.deepEqual(Array.from(oursY.dataSync()), Array.from(stockY.dataSync()), 'inference');
  assert.deepEqual(Array.from(ours.value.dataSync()), Array.from(stock.value.dataSync()));
  assert.deepEqual(
    Array.from(Object.values(ours.grads)[0].dataSync()),
    Array.from(Object.values(stock.grads)[0].dataSync()),
    'kernel gradient',
  );
  assert.deepEqual(Array.from(oursX.dataSync()), Array.from(stockX.dataSync()), 'input gradient');
  tf.dispose([
    x,
    dy,
    ours.value,
    ...Object.values(ours.grads),
    oursX,
    oursY,
    stock.value,
    ...Object.values(stock.grads),
    stockX,
    stockY,
    recorded,
  ]);
  model.dispose();
});

test('native: a Conv2D layer without bias runs the plain convolution, same values and gradients as the fused one', async (t) => {
  if (!ready(t)) return;
  const layer = tf.layers.conv2d({ filters: 5, kernelSize: 3, padding: 'same', useBias: false, inputShape: [6, 6, 2] });
  const r = rng(5);
  const x = tf.tensor4d(
    Float32Array.from({ length: 3 * 6 * 6 * 2 }, () => r() - 0.5),
    [3, 6, 6, 2],
  );
  tf.tidy(() => layer.apply(x) as tf.Tensor);
  const kernel = layer.getWeights()[0];
  const f = () => tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)), [kernel as tf.Variable]);
  const names = await kernelsOf(() => layer.apply(x) as tf.Tensor);
  assert.ok(names.includes('Conv2D') && !names.includes('FusedConv2D'), names.join(', '));
  const ours = f();
  const stock = await withStockTensorflowKernels(f);
  const stockNames = await withStockTensorflowKernels(() => kernelsOf(() => layer.apply(x) as tf.Tensor));
  assert.ok(stockNames.includes('FusedConv2D'), stockNames.join(', '));
  assert.deepEqual(Array.from(ours.value.dataSync()), Array.from(stock.value.dataSync()));
  const g = Object.values(ours.grads)[0].dataSync();
  const gs = Object.values(stock.grads)[0].dataSync();
  assert.ok(relError(g, gs) <= 1e-6, `kernel gradient: relative error ${relError(g, gs)}`);
  tf.dispose([x, ours.value, stock.value, ...Object.values(ours.grads), ...Object.values(stock.grads)]);
  layer.dispose();
});

/**
 * The benchmark's BN network (BN after each convolution, the BN neck) trained for a few SGD steps
 * on the fused BatchNorm and on tfjs-layers' own: losses, weights, and the moving statistics.
 */
async function bnRun(stock: boolean, steps: number, runDir?: string, resume?: string) {
  const spec: L.BackboneSpec = {
    name: 'reference',
    inputShape: [12, 12, 1],
    embeddingDim: 8,
    seed: 2,
    batchNorm: true,
    neck: true,
  };
  const r = rng(8);
  const model = L.buildBackbone(spec);
  const loss = L.arcFace({ numClasses: 4, embeddingDim: 8, s: 16, seed: 2 });
  const go = () =>
    L.train({
      model,
      backbone: spec,
      loss,
      data: {
        x: Float32Array.from({ length: 16 * steps * 144 }, () => r()),
        y: Int32Array.from({ length: 16 * steps }, (_, i) => i % 4),
        shape: [12, 12, 1],
      },
      epochs: resume ? 2 : 1,
      batchSize: 16,
      optimizer: 'sgd',
      lr: 0.05,
      nesterov: true,
      weightDecay: 5e-4,
      progress: 'none',
      ...(runDir ? { runDir } : {}),
      ...(resume ? { resume } : {}),
    });
  const res = stock ? await withStockTensorflowKernels(go) : await go();
  const probe = tf.tensor4d(
    Float32Array.from({ length: 5 * 144 }, (_, i) => Math.cos(i)),
    [5, 12, 12, 1],
  );
  const out = {
    losses: res.history.map((h) => h.loss),
    weights: model.weights.map((w) => Array.from(w.read().dataSync())),
    names: model.weights.map((w) => w.originalName),
    embeddings: tf.tidy(() => Array.from((model.predict(probe) as tf.Tensor).dataSync())),
  };
  probe.dispose();
  model.dispose();
  loss.dispose();
  return out;
}

test('native: fused BatchNorm training equals tfjs-layers BatchNorm: losses, weights, moving statistics and inference after several steps', async (t) => {
  if (!ready(t)) return;
  const names = await kernelsOf(() => {
    const bn = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
    const x = tf.randomNormal([8, 3, 3, 4], 0, 1, 'float32', 1);
    const y = tf.grad((v: tf.Tensor) => tf.sum(tf.square(bn.apply(v, { training: true }) as tf.Tensor)))(x);
    x.dispose();
    bn.dispose();
    return y;
  });
  assert.ok(
    names.includes('MarginLabFusedBatchNorm') && names.includes('MarginLabFusedBatchNormGrad'),
    names.join(', '),
  );
  const fused = await bnRun(false, 4);
  const stock = await bnRun(true, 4);
  // Four SGD steps at lr 0.05, s = 16: float32 rounding apart, no more.
  assert.ok(relError(fused.losses, stock.losses) <= 1e-4, `loss ${fused.losses} vs ${stock.losses}`);
  weightErrors(fused.weights, stock.weights).forEach((e, i) =>
    // Moving statistics, γ, β, kernels.
    assert.ok(e <= 1e-3, `${fused.names[i]}: relative error ${e}`),
  );
  assert.ok(fused.names.some((n) => /moving_variance/.test(n)));
  const e = relError(fused.embeddings, stock.embeddings);
  assert.ok(e <= 1e-3, `inference embeddings (moving statistics): relative error ${e}`);
});

test('native: a checkpoint trained on the fused kernels resumes on the stock ones and the other way round', async (t) => {
  if (!ready(t)) return;
  for (const firstStock of [false, true]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-native-bn-'));
    await bnRun(firstStock, 3, dir);
    const file = path.join(dir, 'checkpoint.json');
    const crossed = await bnRun(!firstStock, 3, undefined, file);
    const same = await bnRun(firstStock, 3, undefined, file);
    assert.equal(crossed.losses.length, 2, 'epoch 1 from the checkpoint, epoch 2 trained');
    assert.ok(relError(crossed.losses, same.losses) <= 1e-4, `${crossed.losses} vs ${same.losses}`);
    weightErrors(crossed.weights, same.weights).forEach((e, i) =>
      assert.ok(e <= 1e-3, `${crossed.names[i]}: relative error ${e}`),
    );
    fs.rmSync(dir, { recursive: true });
  }
});
