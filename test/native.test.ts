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
import { stockReluGradient } from 'margin-lab/dist/backend/tensorflow-kernels';

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
