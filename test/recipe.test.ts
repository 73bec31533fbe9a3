/**
 * The face-recognition training recipe: BatchNorm backbones and the BN neck, weight decay
 * (coupled for SGD, decoupled for Adam), Nesterov momentum and the margin warm-up.
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ml from 'margin-lab';
import { tf } from 'margin-lab';
import { loadForInference } from 'margin-lab/dist/train/checkpoint';
import { lossOptionsFromFlags } from 'margin-lab/dist/losses/flags';
import { toyImages } from './helpers/toy';

before(async () => {
  await ml.useBestBackend({ print: false });
});

function toyData(n = 64, seed = 5): ml.TrainData {
  return toyImages(n, seed, 8);
}

const bnSpec = (): ml.BackboneSpec => ({
  name: 'reference',
  inputShape: [8, 8, 1],
  embeddingDim: 6,
  seed: 3,
  batchNorm: true,
  neck: true,
});

/** The face recipe's optimizer settings at toy scale (SGD, Nesterov, weight decay). */
const faceSgd: Partial<ml.TrainOptions> = {
  batchSize: 16,
  optimizer: 'sgd',
  lr: 0.05,
  nesterov: true,
  weightDecay: 5e-4,
  progress: 'none',
};

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

test('BN backbones: BatchNorm after each convolution and the BN–dense–BN neck, for every backbone', () => {
  for (const name of ml.BACKBONES) {
    const spec: ml.BackboneSpec = {
      name,
      inputShape: [16, 16, 1],
      embeddingDim: 5,
      width: 0.25,
      seed: 1,
      neck: true,
      batchNorm: name !== 'mlp',
    };
    const m = ml.buildBackbone(spec);
    const bns = m.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    const convs = m.layers.filter((l) => l.getClassName() === 'Conv2D');
    assert.equal(bns.length, convs.length + 2, `${name}: one BN per convolution plus two in the neck`);
    // The neck's last BN keeps γ = 1 (only β is trained), as insightface's features layer.
    const last = m.layers[m.layers.length - 1];
    assert.equal(last.name, 'embedding');
    assert.deepEqual(
      last.trainableWeights.map((w) => w.originalName.split('/').pop()),
      ['beta'],
      `${name}: the final BN trains β only`,
    );
    for (const c of convs)
      assert.equal((c.getConfig() as { useBias: boolean }).useBias, false, `${name}: no conv bias`);
    const out = tf.tidy(() => (m.predict(tf.zeros([2, 16, 16, 1])) as tf.Tensor).shape);
    assert.deepEqual(out, [2, 5]);
    m.dispose();
  }
  assert.throws(
    () => ml.buildBackbone({ name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 2, batchNorm: true }),
    /mlp: batchNorm .* has none; use neck/,
  );
  assert.throws(
    () => ml.buildBackbone({ name: 'reference', inputShape: [8, 8, 1], embeddingDim: 2, dropout: 0.2 }),
    /dropout 0.2 applies inside the BN neck; give neck: true too/,
  );
  assert.throws(
    () => ml.buildBackbone({ name: 'reference', inputShape: [8, 8, 1], embeddingDim: 2, neck: true, dropout: 1 }),
    /dropout must be a number in \[0, 1\), got 1/,
  );
});

test('BN: batch statistics in training, moving statistics in evaluation; training updates them', async () => {
  const data = toyData();
  const model = ml.buildBackbone(bnSpec());
  const xb = tf.tensor4d(data.x, [64, 8, 8, 1]);
  const evalA = tf.tidy(() => (model.predict(xb) as tf.Tensor).arraySync() as number[][]);
  const evalB = tf.tidy(() => (model.predict(xb) as tf.Tensor).arraySync() as number[][]);
  assert.deepEqual(evalA, evalB, 'evaluation embeddings are deterministic');
  const trainMode = tf.tidy(() => (model.apply(xb, { training: true }) as tf.Tensor).arraySync() as number[][]);
  const diff = Math.max(...trainMode.flat().map((v, i) => Math.abs(v - evalA.flat()[i])));
  assert.ok(diff > 1e-3, `training-mode embeddings use the batch statistics (max difference ${diff})`);
  // In training mode the neck's last BN has zero batch mean per dimension (up to β = 0 at init).
  const colMean = trainMode[0].map((_, j) => trainMode.reduce((a, r) => a + r[j], 0) / trainMode.length);
  for (const v of colMean) assert.ok(Math.abs(v) < 1e-4, `batch-normalized output mean ${v}`);

  const moving = () =>
    model.nonTrainableWeights.map((w) => Array.from(w.read().dataSync() as Float32Array)).flat() as number[];
  const before = moving();
  const loss = ml.arcFace({ numClasses: 4, embeddingDim: 6, s: 16 });
  await ml.train({
    model,
    backbone: bnSpec(),
    loss,
    data,
    epochs: 1,
    batchSize: 32,
    progress: 'none',
    accuracyEvery: 0,
  });
  const after = moving();
  assert.equal(after.length, before.length);
  assert.ok(
    after.some((v, i) => Math.abs(v - before[i]) > 1e-4),
    'the moving mean and variance move during training',
  );
  // predict() still agrees with itself after training.
  const e1 = tf.tidy(() => (model.predict(xb) as tf.Tensor).arraySync());
  const e2 = tf.tidy(() => (model.predict(xb) as tf.Tensor).arraySync());
  assert.deepEqual(e1, e2);
  xb.dispose();
  loss.dispose();
  model.dispose();
});

test('BN: moving statistics are saved in and restored from checkpoints; the tensor count stays flat', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-bn-'));
  const data = toyData();
  const model = ml.buildBackbone(bnSpec());
  const loss = ml.cosFace({ numClasses: 4, embeddingDim: 6, s: 16 });
  const counts: number[] = [];
  await ml.train({
    model,
    backbone: bnSpec(),
    loss,
    data,
    epochs: 3,
    ...faceSgd,
    runDir: dir,
    onEpochEnd: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(counts.length, 3);
  assert.equal(counts[2], counts[1], `tensor count per epoch: ${counts.join(', ')}`);
  const restored = loadForInference(path.join(dir, 'checkpoint.json'));
  assert.deepEqual(
    restored.data.backbone,
    { ...bnSpec(), neckLayout: 'bn-relu' },
    'the checkpoint records the BN backbone, its default neck layout written out',
  );
  assert.equal(restored.data.config.nesterov, true);
  assert.equal(restored.data.config.weightDecay, 5e-4);
  const names = restored.data.model.map((w) => w.name);
  assert.ok(names.includes('moving_mean') && names.includes('moving_variance'), names.join(', '));
  const want = weightsOf(model);
  const got = weightsOf(restored.model);
  assert.equal(got.length, want.length);
  want.forEach((w, i) => assert.deepEqual(got[i], w, `weight #${i} (${names[i]})`));
  const xb = tf.tensor4d(data.x.subarray(0, 8 * 64), [8, 8, 8, 1]);
  assert.deepEqual(
    tf.tidy(() => (restored.model.predict(xb) as tf.Tensor).arraySync()),
    tf.tidy(() => (model.predict(xb) as tf.Tensor).arraySync()),
    'the restored model embeds exactly as the trained one',
  );
  tf.dispose(xb);
  restored.model.dispose();
  restored.loss.dispose();
  model.dispose();
  loss.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * One step on the whole data set (one batch: the shuffle cannot change the gradient) from the
 * same initial weights, with the given optimizer settings; returns the weights before and after.
 */
async function oneStep(opts: Partial<ml.TrainOptions>, steps = 1): Promise<{ w0: Float32Array[]; w1: Float32Array[] }> {
  const data = toyData(32);
  const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 4, hidden: [16], seed: 4 };
  const model = ml.buildBackbone(spec);
  const loss = ml.normFace({ numClasses: 4, embeddingDim: 4, s: 8, seed: 7 });
  const all = () => [...weightsOf(model), loss.W.dataSync() as Float32Array];
  const w0 = all();
  await ml.train({
    model,
    backbone: spec,
    loss,
    data,
    epochs: steps,
    batchSize: 32,
    lr: 0.1,
    progress: 'none',
    accuracyEvery: 0,
    ...opts,
  });
  const w1 = all();
  model.dispose();
  loss.dispose();
  return { w0, w1 };
}

function assertClose(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst <= tol, `${what}: max difference ${worst} > ${tol}`);
}

test('weight decay: SGD adds wd·w to the gradient (PyTorch), Adam shrinks w by (1 − lr·wd) first (AdamW)', async () => {
  const lr = 0.1;
  const wd = 0.05;
  // SGD: w1 = w0 − lr·(g + wd·w0) = plain − lr·wd·w0 (first step: the momentum buffer is the gradient).
  const plain = await oneStep({ optimizer: 'sgd', momentum: 0.9 });
  const decayed = await oneStep({ optimizer: 'sgd', momentum: 0.9, weightDecay: wd });
  plain.w0.forEach((w0, i) => {
    const want = plain.w1[i].map((v, k) => v - lr * wd * w0[k]);
    assertClose(decayed.w1[i], want, 2e-6, `SGD tensor #${i}`);
  });
  // The decay reaches every trained variable, the class weights (last) included.
  const Wmoved = decayed.w1.at(-1)!.some((v, k) => Math.abs(v - plain.w1.at(-1)![k]) > 1e-6);
  assert.ok(Wmoved, 'class weights are decayed');
  // AdamW: w1 = w0·(1 − lr·wd) − lr·adam = plain − lr·wd·w0.
  const adam = await oneStep({ optimizer: 'adam' });
  const adamW = await oneStep({ optimizer: 'adam', weightDecay: wd });
  adam.w0.forEach((w0, i) => {
    const want = adam.w1[i].map((v, k) => v - lr * wd * w0[k]);
    assertClose(adamW.w1[i], want, 2e-6, `AdamW tensor #${i}`);
  });
  await assert.rejects(
    oneStep({ optimizer: 'sgd', weightDecay: -1 }),
    /weightDecay must be a number in \[0, 1\), got -1/,
  );
});

test('Nesterov momentum: the first step is −lr·(1 + μ)·g, the second matches a hand computation', async () => {
  const lr = 0.1;
  const mu = 0.9;
  // Plain SGD without momentum gives the gradient: g = (w0 − w1) / lr.
  const sgd = await oneStep({ optimizer: 'sgd', momentum: 0 });
  const nag = await oneStep({ optimizer: 'sgd', momentum: mu, nesterov: true });
  sgd.w0.forEach((w0, i) => {
    const g = w0.map((v, k) => (v - sgd.w1[i][k]) / lr);
    const want = w0.map((v, k) => v - lr * (1 + mu) * g[k]);
    assertClose(nag.w1[i], want, 2e-6, `Nesterov step 1, tensor #${i}`);
  });
  const two = await oneStep({ optimizer: 'sgd', momentum: mu, nesterov: true }, 2);
  const heavyBall = await oneStep({ optimizer: 'sgd', momentum: mu }, 2);
  // The two momentum flavours must differ after two steps (Nesterov looks ahead).
  const differs = two.w1.some((w, i) => w.some((v, k) => Math.abs(v - heavyBall.w1[i][k]) > 1e-6));
  assert.ok(differs, 'Nesterov and heavy-ball momentum differ at step 2');
  // Nesterov (PyTorch): buf₂ = μ·g₁ + g₂ and w₂ = w₁ − lr·(g₂ + μ·buf₂) = w₁ − lr·((1 + μ)·g₂ + μ²·g₁),
  // so g₂ = ((w₁ − w₂)/lr − μ²·g₁)/(1 + μ) must equal the gradient measured at w₁.
  const g1 = sgd.w0.map((w0, i) => w0.map((v, k) => (v - sgd.w1[i][k]) / lr));
  const w1n = nag.w1;
  const g2 = w1n.map((w1, i) => w1.map((v, k) => ((v - two.w1[i][k]) / lr - mu * mu * g1[i][k]) / (1 + mu)));
  const measured = await gradientAt(w1n);
  g2.forEach((g, i) => assertClose(g, measured[i], 5e-5, `Nesterov step 2 gradient, tensor #${i}`));
  await assert.rejects(oneStep({ optimizer: 'adam', nesterov: true }), /nesterov applies to SGD/);
  await assert.rejects(oneStep({ optimizer: 'adam', momentum: 0.9 }), /momentum 0.9 applies to SGD only/);
});

/** The full-batch gradient of oneStep's problem at given weights (from one plain SGD step, lr 1). */
async function gradientAt(weights: Float32Array[]): Promise<Float32Array[]> {
  const data = toyData(32);
  const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 4, hidden: [16], seed: 4 };
  const model = ml.buildBackbone(spec);
  const loss = ml.normFace({ numClasses: 4, embeddingDim: 4, s: 8, seed: 7 });
  model.setWeights(weights.slice(0, -1).map((w, i) => tf.tensor(w, model.weights[i].shape as number[])));
  loss.W.assign(tf.tensor2d(weights.at(-1)!, loss.W.shape as [number, number]));
  const w0 = [...weightsOf(model), loss.W.dataSync() as Float32Array].map((w) => w.slice());
  await ml.train({
    model,
    backbone: spec,
    loss,
    data,
    epochs: 1,
    batchSize: 32,
    optimizer: 'sgd',
    momentum: 0,
    lr: 1,
    progress: 'none',
    accuracyEvery: 0,
  });
  const w1 = [...weightsOf(model), loss.W.dataSync() as Float32Array];
  model.dispose();
  loss.dispose();
  return w0.map((w, i) => w.map((v, k) => v - w1[i][k]));
}

test('margin warm-up: m ramps linearly from 0 over N steps, survives a checkpoint, and the trainer steps it', async () => {
  const theta = [0.3, 1.0, 2.0];
  const arc = ml.arcFace({ numClasses: 3, embeddingDim: 4, m: 0.5, marginWarmup: { steps: 4 } });
  for (let k = 0; k <= 6; k++) {
    const m = 0.5 * Math.min(1, k / 4);
    assert.equal(arc.marginFactor, Math.min(1, k / 4));
    const curve = arc.targetCurve(theta);
    theta.forEach((t, i) => assert.ok(Math.abs(curve[i] - Math.cos(t + m)) < 1e-6, `step ${k}, θ = ${t}`));
    arc.step();
  }
  const cos = ml.cosFace({ numClasses: 3, embeddingDim: 4, m: 0.4, marginWarmup: { steps: 10 } });
  for (let k = 0; k < 3; k++) cos.step();
  assert.ok(Math.abs(cos.targetCurve([1])[0] - (Math.cos(1) - 0.4 * 0.3)) < 1e-6);
  // A stored config rebuilds the loss at the same point of the ramp.
  const cfg = cos.config();
  assert.deepEqual(cfg.marginWarmup, { steps: 10, iteration: 3 });
  const again = ml.createLoss('cosface', cfg as never) as ml.CosFace;
  again.loadConfigState?.(cfg);
  assert.equal(again.marginFactor, 0.3);
  // Combined: every margin moves from its no-margin value.
  const comb = ml.combinedMargin({
    numClasses: 3,
    embeddingDim: 4,
    m1: 1,
    m2: 0.3,
    m3: 0.2,
    marginWarmup: { steps: 2 },
  });
  assert.ok(Math.abs(comb.targetCurve([1])[0] - Math.cos(1)) < 1e-6, 'no margin at step 0');
  comb.step();
  assert.ok(Math.abs(comb.targetCurve([1])[0] - (Math.cos(1 + 0.15) - 0.1)) < 1e-6, 'half the margins at step 1');
  // Errors name the loss, the option and the value.
  assert.throws(
    () => ml.arcFace({ numClasses: 3, embeddingDim: 4, marginWarmup: { steps: 0 } }),
    /arcface: marginWarmup.steps must be an integer ≥ 1.*got 0/,
  );
  assert.throws(
    () => ml.createLoss('softmax', { numClasses: 3, embeddingDim: 4, marginWarmup: { steps: 3 } }),
    /marginWarmup is not an option of softmax/,
  );
  // The CLI's flag goes through the same table.
  assert.deepEqual(lossOptionsFromFlags('arcface', { 'margin-warmup': '100' }), { marginWarmup: { steps: 100 } });
  assert.throws(
    () => lossOptionsFromFlags('arcface', { 'margin-warmup': '1.5' }),
    /margin-warmup "1.5": arcface expects an integer/,
  );
  // The trainer advances it once per step, and reports the factor.
  const data = toyData(32);
  const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 4, hidden: [8], seed: 1 };
  const model = ml.buildBackbone(spec);
  const loss = ml.arcFace({ numClasses: 4, embeddingDim: 4, s: 8, marginWarmup: { steps: 8 } });
  const r = await ml.train({ model, backbone: spec, loss, data, epochs: 2, batchSize: 16, progress: 'none' });
  assert.equal(r.steps, 4);
  assert.equal(loss.marginFactor, 0.5);
  assert.deepEqual(
    r.history.map((h) => h.marginFactor),
    [0.25, 0.5],
  );
  model.dispose();
  loss.dispose();
});

test('train() refuses options that mean nothing, naming the option and the value', async () => {
  const data = toyData(32);
  const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 4, hidden: [8], seed: 1 };
  const cases: Array<[Partial<ml.TrainOptions>, RegExp]> = [
    [{ maxStepsPerEpoch: 0 }, /maxStepsPerEpoch must be an integer ≥ 1, got 0/],
    [{ maxStepsPerEpoch: -3 }, /maxStepsPerEpoch must be an integer ≥ 1, got -3/],
    [
      { schedule: { type: 'cosin' as 'cosine' } },
      /train: schedule type must be one of constant, step, cosine, got "cosin"/,
    ],
    [{ schedule: { type: 'constant', warmupSteps: -5 } }, /warmupSteps must be an integer ≥ 0, got -5/],
    [{ schedule: { type: 'step', gamma: -1 } }, /train: schedule gamma must be a number > 0, got -1/],
    [{ schedule: { type: 'step', stepEpochs: 0 } }, /stepEpochs must be an integer ≥ 1, got 0/],
    [{ optimizer: 'sgd', momentum: NaN }, /momentum must be a number in \[0, 1\), got NaN/],
    [{ seed: 1.5 }, /seed must be an integer ≥ 0, got 1.5/],
    [{ optimizer: 'sgd', nesterov: true, momentum: 0 }, /nesterov needs momentum > 0/],
  ];
  for (const [opts, want] of cases) {
    const model = ml.buildBackbone(spec);
    const loss = ml.normFace({ numClasses: 4, embeddingDim: 4 });
    await assert.rejects(
      ml.train({ model, backbone: spec, loss, data, epochs: 1, progress: 'none', ...opts }),
      want,
      JSON.stringify(opts),
    );
    model.dispose();
    loss.dispose();
  }
});

test('SGD with momentum: after train() and dispose of model and loss, no tensor is left (tfjs MomentumOptimizer leaves its learning-rate scalar)', async () => {
  const start = tf.memory().numTensors;
  for (let run = 0; run < 2; run++) {
    const model = ml.buildBackbone(bnSpec());
    const loss = ml.arcFace({ numClasses: 4, embeddingDim: 6, s: 16 });
    await ml.train({
      model,
      backbone: bnSpec(),
      loss,
      data: toyData(),
      epochs: 1,
      ...faceSgd,
    });
    model.dispose();
    loss.dispose();
    assert.equal(tf.memory().numTensors, start, `run ${run + 1}: tensors left after dispose`);
  }
});

test('onStep: called after every step with its loss, awaited, and the model embeds in inference mode inside it', async () => {
  const model = ml.buildBackbone(bnSpec());
  const loss = ml.cosFace({ numClasses: 4, embeddingDim: 6, s: 16 });
  const data = toyData();
  const rows: ml.StepRow[] = [];
  const probe = data.x.subarray(0, 8 * 64);
  const embeds: number[][] = [];
  const result = await ml.train({
    model,
    backbone: bnSpec(),
    loss,
    data,
    epochs: 2,
    batchSize: 16,
    optimizer: 'sgd',
    lr: 0.05,
    progress: 'none',
    onStep: async (r) => {
      rows.push(r);
      await new Promise((resolve) => setTimeout(resolve, 1)); // awaited: the next step waits
      const a = Array.from(ml.embedImages(model, probe, [8, 8, 1]).emb);
      const b = Array.from(ml.embedImages(model, probe, [8, 8, 1]).emb);
      assert.deepEqual(a, b, 'embeddings inside onStep are deterministic (moving statistics, not the batch)');
      embeds.push(a);
    },
  });
  assert.equal(rows.length, 8, '64 samples / 16 = 4 steps × 2 epochs');
  assert.deepEqual(
    rows.map((r) => [r.epoch, r.step, r.globalStep]),
    [1, 2].flatMap((e) => [1, 2, 3, 4].map((s) => [e, s, (e - 1) * 4 + s])),
  );
  for (const [e, h] of result.history.entries()) {
    const mean = rows.filter((r) => r.epoch === e + 1).reduce((a, r) => a + r.loss, 0) / 4;
    assert.ok(
      Math.abs(mean - h.loss) < 1e-6 * Math.max(1, h.loss),
      `epoch ${e + 1}: mean of step losses ${mean} vs ${h.loss}`,
    );
  }
  assert.notDeepEqual(embeds[0], embeds[7], 'the model moved between the first and the last step');
  model.dispose();
  loss.dispose();
});
