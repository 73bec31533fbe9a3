/**
 * WebGPU correctness (this file runs in its own process, as every test file does): every loss's
 * value and gradients against the float64 references, the triplet miners, and one training step of
 * the reference net + ArcFace against wasm.
 *
 * Adapter: a hardware one if Dawn finds it; otherwise SwiftShader, the software Vulkan driver the
 * chromium package ships (Debian 12's Mesa lavapipe lacks a feature Dawn requires). With neither,
 * every test here skips with the probe's one-line reason. `MARGIN_LAB_WEBGPU_REQUIRED=1` (set by
 * CI and by the GPU check) turns that skip into a failure.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as L from 'margin-lab';
import { tf, useBestBackend, probeAdapters, BackendReport } from 'margin-lab';
import * as R from './reference/losses64';
import { relError, rng } from './helpers/numeric';
import { checkHeadCase, measureAsync } from './helpers/measure';
import { randMat, randLabels, flat, headCases, shapes, pairCases, CENTER_D } from './helpers/loss-cases';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
let skipReason: string | null = null;
let report: BackendReport | null = null;

before(async () => {
  let probe = probeAdapters();
  if (
    probe.adapters.every((a) => a.fallback) &&
    !process.env.VK_ICD_FILENAMES &&
    !process.env.VK_DRIVER_FILES &&
    fs.existsSync(SWIFTSHADER)
  ) {
    if (probe.adapters.length === 0) {
      process.env.VK_ICD_FILENAMES = SWIFTSHADER;
      probe = probeAdapters(true);
    }
  }
  if (probe.adapters.length === 0) {
    skipReason = `no WebGPU adapter: ${probe.problems.join('; ')}`;
    if (process.env.MARGIN_LAB_WEBGPU_REQUIRED === '1')
      throw new Error(`MARGIN_LAB_WEBGPU_REQUIRED=1, but ${skipReason}`);
    return;
  }
  report = await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'webgpu' } });
  console.log(`# ${report.line}`);
});

/** Skips the test (with the reason) when there is no adapter; true when it may run. */
function ready(t: { skip(msg: string): void }): boolean {
  if (skipReason) {
    t.skip(skipReason);
    return false;
  }
  assert.equal(tf.getBackend(), 'webgpu');
  return true;
}

for (const c of headCases) {
  test(`webgpu: ${c.name} matches the float64 reference (value, d/dx, d/dW)`, async (t) => {
    if (!ready(t)) return;
    await checkHeadCase(c);
  });
}

test('webgpu: softmaxLoss with bias matches the float64 reference', async (t) => {
  if (!ready(t)) return;
  const [N, D, C] = shapes[1];
  const x = randMat(N, D, N, 2);
  const W = randMat(D, C, N + 1);
  const b = randMat(1, C, N + 2)[0];
  const y = randLabels(N, C, N + 3);
  const loss = L.softmaxLoss({ numClasses: C, embeddingDim: D, weights: W, bias: b });
  const got = await measureAsync(loss, x, y);
  loss.dispose();
  const want = R.softmaxRef(x, W, b, y);
  assert.ok(Math.abs(got.loss - want) <= 1e-4 * Math.max(1, want), `loss ${got.loss} vs ${want}`);
  assert.ok(relError(got.gx, flat(R.fdGrad((xx) => R.softmaxRef(xx, W, b, y), x))) <= 1e-4);
  assert.ok(relError(got.gW!, flat(R.fdGrad((ww) => R.softmaxRef(x, ww, b, y), W))) <= 1e-4);
});

for (const c of pairCases) {
  test(`webgpu: ${c.name} matches the float64 reference (value, d/dx)`, async (t) => {
    if (!ready(t)) return;
    for (const [N, seed] of [
      [8, 1],
      [12, 2],
      [20, 3],
    ] as const) {
      const x = randMat(N, CENTER_D, 50 + seed, c.scale ?? 1);
      const y = Array.from({ length: N }, (_, i) => i % 4);
      const loss = c.make();
      const got = await measureAsync(loss, x, y);
      loss.dispose();
      const want = c.ref(x, y);
      const gx = flat(R.fdGrad((xx) => c.ref(xx, y), x));
      assert.ok(Math.abs(got.loss - want) <= 1e-4 * Math.max(1, Math.abs(want)), `N=${N}: loss ${got.loss} vs ${want}`);
      assert.ok(relError(got.gx, gx) <= 1e-4, `N=${N}: d/dx relative error ${relError(got.gx, gx)}`);
    }
  });
}

test('webgpu: triplet statistics arrive asynchronously and match the reference counts', async (t) => {
  if (!ready(t)) return;
  const x = randMat(12, 4, 9);
  const y = Array.from({ length: 12 }, (_, i) => i % 3);
  for (const miner of ['batchAll', 'batchHard', 'semiHard'] as const) {
    const loss = L.tripletLoss({ miner, margin: 0.5 });
    const v = tf.tidy(() => loss.compute(tf.tensor2d(x), y));
    await v.data();
    v.dispose();
    await new Promise((r) => setTimeout(r, 50));
    const ref = R.tripletRef(x, y, 0.5, miner, 'mean-active');
    assert.deepEqual(loss.lastStats, { mined: ref.mined, active: ref.active }, miner);
  }
  const custom = L.tripletLoss({ miner: (i) => L.miners.batchHard(i) });
  assert.throws(
    () => custom.compute(tf.tensor2d(x), y),
    /custom miner .* cannot do synchronously .* use one of batchAll, batchHard, semiHard/,
  );
});

test('webgpu: the accurate kernels: acos within 1.5 ulp, cos and sin within 2e-7 of Math.*, acos(±1.5) NaN', async (t) => {
  if (!ready(t)) return;
  const n = 20001;
  // Inputs as float32, so the comparison measures the kernel and not the input's rounding.
  const c = Float32Array.from({ length: n }, (_, i) => -1 + (2 * i) / (n - 1));
  const a = Float32Array.from({ length: n }, (_, i) => -40 + (80 * i) / (n - 1));
  /** float32 spacing at |v|: what one rounding of the result costs. */
  const ulp = (v: number) => 2 ** (Math.floor(Math.log2(Math.max(Math.abs(v), 2 ** -126))) - 23);
  const worst = (got: ArrayLike<number>, xs: Float32Array, f: (v: number) => number, unit: (v: number) => number) => {
    let w = 0;
    xs.forEach((v, i) => (w = Math.max(w, Math.abs(got[i] - f(v)) / unit(f(v)))));
    return w;
  };
  const [ct, at, ot] = [tf.tensor1d(c), tf.tensor1d(a), tf.tensor1d([1.5, -1.5])];
  const outs = [tf.acos(ct), tf.cos(at), tf.sin(at), tf.acos(ot)];
  const [acos, cos, sin, outside] = await Promise.all(outs.map((o) => o.data()));
  tf.dispose([ct, at, ot, ...outs]);
  const errs = {
    acosUlp: worst(acos, c, Math.acos, ulp),
    cosAbs: worst(cos, a, Math.cos, () => 1),
    sinAbs: worst(sin, a, Math.sin, () => 1),
  };
  console.log(`# worst errors: ${JSON.stringify(errs)}`);
  assert.ok(errs.acosUlp <= 1.5, `acos: worst error ${errs.acosUlp} ulp`);
  assert.ok(errs.cosAbs <= 2e-7, `cos: worst absolute error ${errs.cosAbs}`);
  assert.ok(errs.sinAbs <= 2e-7, `sin: worst absolute error ${errs.sinAbs}`);
  assert.ok(Number.isNaN(outside[0]) && Number.isNaN(outside[1]), `acos(±1.5) = ${outside[0]}, ${outside[1]}`);
});

test('webgpu: a synchronous read says what to do instead', (t) => {
  if (!ready(t)) return;
  // Large enough that the backend does not forward it to its CPU kernels.
  const a = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]));
  assert.throws(() => a.dataSync(), /cannot read a GPU tensor synchronously.*await tensor\.data\(\)/);
  a.dispose();
});

test('webgpu: one training step of referenceNet + ArcFace equals wasm and the plain cpu backend (rel. error ≤ 1e-4)', async (t) => {
  if (!ready(t)) return;
  // The benchmark's setting: uniform pixels, a seeded net and a seeded ArcFace head (s = 64).
  // A step from a badly separated start (loss ~ 85) is ill-conditioned: there wasm itself differs
  // from the cpu backend by ~1e-4, because s = 64 amplifies float32 rounding in the convolutions.
  // Here both CPU backends agree to ~1e-6, so the 1e-4 bound below measures webgpu, not rounding.
  const batch = 16;
  const spec = {
    name: 'reference' as const,
    inputShape: [28, 28, 1] as [number, number, number],
    embeddingDim: 2,
    seed: 1,
  };
  const r = rng(1);
  const xs = Float32Array.from({ length: batch * 28 * 28 }, () => r());
  const labels = Array.from({ length: batch }, (_, i) => i % 10);

  interface Step {
    loss: number;
    grads: Float32Array[];
    weights: Float32Array[];
  }
  /** Loss and gradients of one step on the active backend, from the given starting weights. */
  async function step(start: Step | null): Promise<Step> {
    const model = L.referenceNet(spec);
    const head = L.arcFace({ numClasses: 10, embeddingDim: 2, s: 64, m: 0.5, seed: 3 });
    if (start) {
      model.setWeights(start.weights.slice(0, -1).map((w, i) => tf.tensor(w, model.getWeights()[i].shape)));
      (head.W as tf.Variable).assign(tf.tensor(start.weights[start.weights.length - 1], head.W!.shape));
    }
    const vars = [...model.trainableWeights.map((w) => w.read() as tf.Variable), head.W as tf.Variable];
    const x = tf.tensor4d(xs, [batch, 28, 28, 1]);
    const { value, grads } = tf.variableGrads(
      () => head.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels),
      vars,
    );
    const read = async (v: tf.Tensor) => (await v.data()) as Float32Array;
    const out = {
      loss: (await value.data())[0],
      grads: await Promise.all(vars.map((v) => read(grads[v.name]))),
      weights: [...(await Promise.all(model.getWeights().map(read))), await read(head.W!)],
    };
    tf.dispose([x, value, ...Object.values(grads)]);
    model.dispose();
    head.dispose();
    return out;
  }
  const worst = (a: Step, b: Step) => Math.max(...a.grads.map((g, i) => relError(g, b.grads[i])));

  const gpu = await step(null);
  assert.ok(Number.isFinite(gpu.loss) && gpu.loss > 0, `webgpu loss ${gpu.loss}`);
  try {
    await useBestBackend({
      print: false,
      env: { ...process.env, MARGIN_LAB_BACKEND: 'wasm', MARGIN_LAB_THREADS: '1' },
    });
    const wasm = await step(gpu);
    await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'cpu' } });
    const cpu = await step(gpu);
    const floor = worst(wasm, cpu);
    console.log(
      `# step loss ${gpu.loss.toFixed(4)}; worst gradient rel. error: webgpu vs wasm ${worst(gpu, wasm).toExponential(1)}, ` +
        `webgpu vs cpu ${worst(gpu, cpu).toExponential(1)}, wasm vs cpu ${floor.toExponential(1)}`,
    );
    assert.ok(
      floor <= 1e-5,
      `the two CPU backends disagree by ${floor}: the setting is too ill-conditioned to test webgpu`,
    );
    for (const [name, ref] of [
      ['wasm', wasm],
      ['cpu', cpu],
    ] as const) {
      assert.ok(
        Math.abs(gpu.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss),
        `loss: webgpu ${gpu.loss}, ${name} ${ref.loss}`,
      );
      assert.equal(gpu.grads.length, ref.grads.length);
      gpu.grads.forEach((g, i) => {
        const e = relError(g, ref.grads[i]);
        assert.ok(e <= 1e-4, `gradient ${i} (${g.length} values) vs ${name}: relative error ${e}`);
      });
    }
  } finally {
    await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: 'webgpu' } });
  }
});

test('webgpu: addN of more inputs than the device binds storage buffers (gradient norms of a deep net)', async (t) => {
  if (!ready(t)) return;
  const n = 23;
  const xs = Array.from({ length: n }, (_, i) => tf.fill([5], i + 1));
  const sum = tf.addN(xs);
  const got = await sum.data();
  tf.dispose([sum, ...xs]);
  assert.deepEqual(Array.from(got), Array(5).fill((n * (n + 1)) / 2));
});

// Last: it leaves this process's webgpu backend poisoned, as it should be.
test('webgpu: a command the GPU rejects makes the next read throw instead of returning stale values', async (t) => {
  if (!ready(t)) return;
  const backend = tf.backend() as unknown as { device: { createBuffer(d: object): unknown } };
  backend.device.createBuffer({ size: 16, usage: 0 }); // usage 0 is a validation error
  const x = tf.ones([64, 64]);
  await assert.rejects(
    () => x.data(),
    /webgpu: the GPU rejected a command, so results since then are wrong \(first error: /,
  );
  x.dispose();
});
