import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { tf } from 'margin-lab';
import { readCheckpoint, loadModelWeights } from 'margin-lab/dist/train/checkpoint';
import { formatProgress } from 'margin-lab/dist/train/progress';
import { DecayedMomentumOptimizer } from 'margin-lab/dist/train/sgd';
import { ROOT } from './helpers/paths';
import { toyImages } from './helpers/toy';

before(async () => {
  await ml.useBestBackend({ print: false });
});

function toyData(n = 128, seed = 3): ml.TrainData {
  return toyImages(n, seed, 6);
}

const spec = (dim = 3): ml.BackboneSpec => ({
  name: 'mlp',
  inputShape: [6, 6, 1],
  embeddingDim: dim,
  hidden: [32],
  seed: 2,
});

test('every backbone builds with the requested embedding size', () => {
  for (const name of ml.BACKBONES) {
    const m = ml.buildBackbone({ name, inputShape: [28, 28, 1], embeddingDim: 7, width: 0.25, seed: 1 });
    const out = tf.tidy(() => (m.predict(tf.zeros([2, 28, 28, 1])) as tf.Tensor).shape);
    assert.deepEqual(out, [2, 7], name);
    m.dispose();
  }
  assert.throws(
    () => ml.buildBackbone({ name: 'vgg' as ml.BackboneName, inputShape: [28, 28, 1], embeddingDim: 2 }),
    /unknown backbone "vgg"/,
  );
});

test("the reference net's neck layouts: the layers each builds, the default with and without BN, and the layouts it refuses", () => {
  const base = { name: 'reference' as const, inputShape: [16, 16, 1] as [number, number, number], embeddingDim: 5 };
  /** The layers after the second pooling, as class names (BN, relu and the rest). */
  const tail = (spec: ml.BackboneSpec) => {
    const m = ml.buildBackbone(spec);
    const names = m.layers.map((l) => {
      const c = l.getClassName();
      if (c === 'BatchNormalization') return 'BN';
      if (c === 'Activation') return (l.getConfig() as { activation: string }).activation;
      if (c === 'Dense') {
        const cfg = l.getConfig() as { units: number; useBias: boolean; activation: string };
        return `dense${cfg.units}${cfg.useBias ? '+b' : ''}${cfg.activation === 'relu' ? '+relu' : ''}`;
      }
      return c;
    });
    m.dispose();
    return names.slice(names.lastIndexOf('MaxPooling2D') + 1);
  };
  assert.deepEqual(tail({ ...base, batchNorm: true, neck: true }), [
    'Flatten',
    'dense128',
    'BN',
    'relu',
    'dense5+b',
    'BN',
  ]);
  assert.deepEqual(tail({ ...base, batchNorm: true, neck: true, neckLayout: 'relu-bn' }), [
    'Flatten',
    'dense128+b+relu',
    'BN',
    'dense5+b',
    'BN',
  ]);
  assert.deepEqual(tail({ ...base, batchNorm: true, neck: true, neckLayout: 'bn2d' }), [
    'BN',
    'Flatten',
    'dense5+b',
    'BN',
  ]);
  // Without BN in the backbone the default stays the generic neck; without the neck, no layout.
  assert.deepEqual(tail({ ...base, neck: true }), ['Flatten', 'dense128+b+relu', 'BN', 'dense5+b', 'BN']);
  assert.deepEqual(tail({ ...base, batchNorm: true }), ['Flatten', 'dense128+b+relu', 'dense5+b']);
  assert.equal(ml.resolveNeckLayout({ ...base, batchNorm: true, neck: true }), 'bn-relu');
  assert.equal(ml.resolveNeckLayout({ ...base, neck: true }), 'relu-bn');
  assert.equal(ml.resolveNeckLayout({ ...base, batchNorm: true }), undefined);
  // The last BN's γ stays frozen in every layout (only β trains, as in insightface's features layer).
  for (const neckLayout of ml.NECK_LAYOUTS) {
    const m = ml.buildBackbone({ ...base, batchNorm: true, neck: true, neckLayout });
    const frozen = m.getLayer('embedding').trainableWeights.map((w) => w.name.split('/').at(-1)!.replace(/_\d+$/, ''));
    assert.deepEqual(frozen, ['beta'], neckLayout);
    m.dispose();
  }
  assert.throws(
    () => ml.buildBackbone({ ...base, batchNorm: true, neckLayout: 'bn-relu' }),
    /backbone reference: neckLayout "bn-relu" applies to the reference backbone with neck: true only; give neck: true too/,
  );
  assert.throws(
    () => ml.buildBackbone({ ...base, name: 'lenetpp', neck: true, neckLayout: 'bn2d' }),
    /backbone lenetpp: neckLayout "bn2d" applies to the reference backbone with neck: true only/,
  );
  assert.throws(
    () => ml.buildBackbone({ ...base, neck: true, neckLayout: 'bn-bn' as ml.NeckLayout }),
    /neckLayout must be one of bn-relu, relu-bn, bn2d, got "bn-bn"/,
  );
});

test('training lowers the loss, steps schedules, and keeps the tensor count flat across epochs', async () => {
  const data = toyData();
  const model = ml.buildBackbone(spec());
  const loss = ml.sphereFace({ numClasses: 4, embeddingDim: 3, normalized: true, s: 10 });
  const counts: number[] = [];
  const result = await ml.train({
    model,
    backbone: spec(),
    loss,
    data,
    epochs: 4,
    batchSize: 32,
    lr: 0.01,
    progress: 'none',
    onEpochEnd: () => counts.push(tf.memory().numTensors),
  });
  assert.equal(result.history.length, 4);
  assert.ok(result.history[3].loss < result.history[0].loss, `loss ${result.history.map((h) => h.loss)}`);
  assert.equal(new Set(counts).size, 1, `tensor counts per epoch: ${counts}`);
  assert.equal(result.steps, 16);
  assert.ok(loss.lambda < 1000, 'SphereFace λ was stepped by the trainer');
  assert.equal(result.history[3].lambda, loss.lambda);
  const df = result.historyFrame();
  assert.deepEqual(df.shape, [4, result.history[0] && Object.keys(result.history[0]).length]);
  assert.ok(df.columns.includes('accuracy') && df.columns.includes('samplesPerSec'));
  model.dispose();
  loss.dispose();
});

test('pair losses train on P×K batches; CurricularFace t moves during training', async () => {
  const data = toyData(96);
  const model = ml.buildBackbone(spec(4));
  const triplet = ml.tripletLoss({ miner: 'batchAll', margin: 0.3 });
  const r = await ml.train({
    model,
    backbone: spec(4),
    loss: triplet,
    data,
    epochs: 3,
    batchSize: 16,
    lr: 0.01,
    progress: 'none',
  });
  assert.ok(r.history[2].loss < r.history[0].loss, `triplet loss ${r.history.map((h) => h.loss)}`);
  assert.ok(Number.isNaN(r.history[0].accuracy));
  const cf = ml.curricularFace({ numClasses: 4, embeddingDim: 4, s: 10 });
  await ml.train({ model, backbone: spec(4), loss: cf, data, epochs: 1, batchSize: 32, progress: 'none' });
  assert.ok(cf.t !== 0, 't is updated in training mode');
  model.dispose();
});

test('learning-rate schedules: warm-up, step and cosine', () => {
  assert.equal(ml.learningRateAt(0.1, { type: 'constant', warmupSteps: 4 }, 0, 10, 100), 0.025);
  assert.equal(ml.learningRateAt(0.1, { type: 'constant', warmupSteps: 4 }, 4, 10, 100), 0.1);
  assert.ok(Math.abs(ml.learningRateAt(0.1, { type: 'step', stepEpochs: 2, gamma: 0.5 }, 45, 10, 100) - 0.025) < 1e-15);
  assert.equal(ml.learningRateAt(0.1, { type: 'cosine' }, 0, 10, 100), 0.1);
  assert.ok(Math.abs(ml.learningRateAt(0.1, { type: 'cosine' }, 50, 10, 100) - 0.05) < 1e-12);
  assert.ok(ml.learningRateAt(0.1, { type: 'cosine' }, 100, 10, 100) < 1e-12);
});

test('a diverging run stops with the step, the loss and a hint, without applying the bad update', async () => {
  const data = toyData(64);
  const model = ml.buildBackbone(spec());
  const inner = ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 });
  let calls = 0;
  let snapshot: number[][] = [];
  // A loss that turns NaN on its third batch, as an exploding run would. The weights as they
  // were before that step are recorded so we can check that the bad update was not applied.
  const poisoned: ml.EmbeddingLoss = {
    name: 'poisoned',
    training: true,
    get trainableVariables() {
      return inner.trainableVariables;
    },
    compute: (e, y, o) => {
      calls++;
      const v = inner.compute(e, y, o);
      if (calls !== 3) return v;
      snapshot = [...model.getWeights(), inner.W].map((w) => Array.from(w.dataSync()));
      return tf.mul(v, NaN) as tf.Scalar;
    },
    step: () => {},
    config: () => ({ s: 8, m: 0.5 }),
    stateDict: () => inner.stateDict(),
    dispose: () => inner.dispose(),
  };
  await assert.rejects(
    ml.train({
      model,
      backbone: spec(),
      loss: poisoned,
      data,
      epochs: 1,
      batchSize: 16,
      lr: 0.01,
      progress: 'none',
      accuracyEvery: 0,
    }),
    (e: Error) => {
      assert.ok(e instanceof ml.TrainingDivergedError);
      assert.match(e.message, /training diverged at epoch 1, step 2: loss = NaN/);
      assert.match(e.message, /lower learning rate \(now 0.0100\)/);
      assert.match(e.message, /s = 8, m = 0.5/);
      assert.match(e.message, /update was not applied/);
      return true;
    },
  );
  const after = [...model.getWeights(), inner.W].map((w) => Array.from(w.dataSync()));
  assert.deepEqual(after, snapshot, 'weights changed by the diverged step');
  model.dispose();
});

test('a step whose loss is finite but whose gradient is not is refused too, and the message gives the gradient norm', async () => {
  const data = toyData(64);
  const model = ml.buildBackbone(spec());
  const inner = ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 });
  // Identity forward, +Inf (or NaN) backward for one entry: the loss stays finite.
  const poison = (bad: number) =>
    tf.customGrad(((x: tf.Tensor) => ({
      value: tf.clone(x),
      gradFunc: (dy: tf.Tensor) => tf.add(dy, tf.mul(tf.oneHot([0], x.size).reshape(x.shape), bad)),
    })) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor) => tf.Tensor;
  for (const bad of [Infinity, NaN]) {
    let calls = 0;
    let snapshot: number[][] = [];
    const poisoned: ml.EmbeddingLoss = {
      name: 'poisoned-gradient',
      training: true,
      get trainableVariables() {
        return inner.trainableVariables;
      },
      compute: (e, y, o) => {
        calls++;
        if (calls !== 2) return inner.compute(e, y, o);
        snapshot = [...model.getWeights(), inner.W].map((w) => Array.from(w.dataSync()));
        return inner.compute(poison(bad)(e) as tf.Tensor2D, y, o);
      },
      step: () => {},
      config: () => ({ s: 8, m: 0.5 }),
      stateDict: () => inner.stateDict(),
      dispose: () => {},
    };
    await assert.rejects(
      ml.train({ model, backbone: spec(), loss: poisoned, data, epochs: 1, batchSize: 16, lr: 0.01, progress: 'none' }),
      (e: Error) => {
        assert.ok(e instanceof ml.TrainingDivergedError);
        assert.match(e.message, /training diverged at epoch 1, step 1: loss = \d/);
        // An infinite entry turns into NaN on its way back through the network.
        assert.match(e.message, /gradient norm = (NaN|Infinity)\./);
        return true;
      },
    );
    const after = [...model.getWeights(), inner.W].map((w) => Array.from(w.dataSync()));
    assert.deepEqual(after, snapshot, `weights changed by the step with a ${bad} gradient`);
  }
  inner.dispose();
  model.dispose();
});

test('checkpoints reload for inference and resume training where they stopped', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ckpt-'));
  const data = toyData();
  const model = ml.buildBackbone(spec());
  const loss = ml.curricularFace({ numClasses: 4, embeddingDim: 3, s: 10 });
  await ml.train({
    model,
    backbone: spec(),
    loss,
    data,
    epochs: 2,
    batchSize: 32,
    progress: 'none',
    runDir: dir,
    meta: { note: 'x' },
  });
  const file = path.join(dir, 'checkpoint.json');
  const ck = readCheckpoint(file);
  assert.equal(ck.epoch, 2);
  assert.equal(ck.config.note, 'x');
  const loaded = ml.loadForInference(file);
  const probe = tf.tensor4d(data.x.subarray(0, 5 * 36), [5, 6, 6, 1]);
  const a = tf.tidy(() => (model.predict(probe) as tf.Tensor).dataSync());
  const b = tf.tidy(() => (loaded.model.predict(probe) as tf.Tensor).dataSync());
  assert.deepEqual(Array.from(b), Array.from(a));
  assert.ok(Math.abs((loaded.loss as ml.CurricularFace).t - loss.t) < 1e-7, 'running t restored');
  assert.deepEqual(Array.from((loaded.loss as ml.ClassifierHead).W.dataSync()), Array.from(loss.W.dataSync()));

  // Resume: epochs 3–4 continue the history and the step count.
  const model2 = ml.buildBackbone(spec());
  const loss2 = ml.curricularFace({ numClasses: 4, embeddingDim: 3, s: 10 });
  const r = await ml.train({
    model: model2,
    backbone: spec(),
    loss: loss2,
    data,
    epochs: 4,
    batchSize: 32,
    progress: 'none',
    runDir: dir,
    resume: file,
  });
  assert.deepEqual(
    r.history.map((h) => h.epoch),
    [1, 2, 3, 4],
  );
  assert.equal(r.steps, 16);
  assert.equal(readCheckpoint(file).epoch, 4);

  // A checkpoint from another architecture is refused with a clear message.
  const other = ml.buildBackbone({ ...spec(), hidden: [16] });
  assert.throws(
    () => loadModelWeights(other, ck.model, 'ck.json'),
    /ck.json was saved from another architecture: weight #0 is kernel \[36, 32\] there but kernel \[36, 16\] in this model/,
  );
  const deeper = ml.buildBackbone({ ...spec(), hidden: [32, 8] });
  assert.throws(() => loadModelWeights(deeper, ck.model, 'ck.json'), /it has 4 weight tensors, this model has 6/);
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"format": "margin-lab-checkpoint", "vers');
  assert.throws(() => readCheckpoint(path.join(dir, 'bad.json')), /is not valid JSON .* it may be truncated/);
  fs.writeFileSync(path.join(dir, 'other.json'), '{"format": "keras"}');
  assert.throws(() => readCheckpoint(path.join(dir, 'other.json')), /is not a margin-lab checkpoint/);
  tf.dispose([probe]);
});

test('a run killed at any of the four file writes of a checkpoint leaves a checkpoint whose files all load', async () => {
  const names = ['weights', 'state', 'checkpoint.json', 'model.json'];
  for (const mode of ['mid-write', 'before-rename'])
    for (let nth = 1; nth <= 4; nth++) {
      const what = `${mode} of ${names[nth - 1]}`;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ml-kill-${mode}-${nth}-`));
      const r = spawnSync(
        process.execPath,
        [path.join(ROOT, 'test', 'fixtures', 'crash-during-checkpoint.js'), dir, mode, String(nth)],
        { encoding: 'utf8', cwd: ROOT },
      );
      assert.equal(r.signal, 'SIGKILL', `${what}: child was not killed (${r.stdout} ${r.stderr})`);
      const ck = readCheckpoint(path.join(dir, 'checkpoint.json'));
      // The commit is checkpoint.json's rename: killed before it, the epoch-1 checkpoint is the one on disk.
      const committed = nth === 4;
      assert.equal(ck.epoch, committed ? 2 : 1, `${what}: the checkpoint on disk`);
      const { model } = ml.loadForInference(path.join(dir, 'checkpoint.json'));
      assert.equal(model.outputs[0].shape[1], 3);
      // model/model.json names a weights file that exists (the previous save's until the new one is committed).
      const loaded = await ml.loadEmbeddingModel(dir);
      assert.equal(loaded.outputs[0].shape[1], 3, what);
      const leftovers = fs
        .readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.tmp'));
      assert.equal(
        leftovers.length,
        1,
        `${what}: the half-written temp file is the only trace (${leftovers.join(', ')})`,
      );
    }
});

test('progress: one formatted line with loss, accuracy, samples/s and ETA; log lines without repeats', () => {
  const line = formatProgress(
    {
      epoch: 2,
      epochs: 5,
      step: 6,
      steps: 12,
      loss: 1.23456,
      accuracy: 0.5,
      samplesPerSec: 1234.4,
      eta: 75,
      extra: { t: 0.25 },
    },
    10,
  );
  assert.equal(line, 'epoch 2/5 [====>     ]  50% 6/12 loss 1.2346 acc 50.0% t 0.2500 1234 samples/s ETA 1:15');
  const written: string[] = [];
  const stream = {
    isTTY: false,
    write: (s: string) => {
      written.push(s);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  const rep = new ml.ProgressReporter('lines', stream);
  const state = (step: number) => ({ epoch: 1, epochs: 1, step, steps: 4, loss: 1, samplesPerSec: 10, eta: 0 });
  for (let s = 1; s <= 4; s++) rep.update(state(s));
  rep.endEpoch(state(4));
  assert.equal(written.length, 4, written.join(''));
  assert.ok(written.every((w) => w.endsWith('\n')));
});

test('resume is bit-exact: a 4-epoch run stopped after epoch 2 and resumed equals the uninterrupted run (Adam; SGD with Nesterov, weight decay, cosine and a BN neck)', async () => {
  const data = toyData(512); // 32 steps per epoch at batch 16: enough for Adam's β powers to drift
  for (const recipe of [
    { name: 'adam', opts: {} as Partial<ml.TrainOptions>, backbone: spec() },
    {
      name: 'sgd',
      opts: {
        optimizer: 'sgd',
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        weightDecay: 5e-4,
        schedule: { type: 'cosine', warmupSteps: 3 },
      } as Partial<ml.TrainOptions>,
      backbone: { ...spec(), neck: true } as ml.BackboneSpec,
    },
  ]) {
    // The interrupted run is the same 4-epoch run (its schedule spans 4 epochs), stopped by its
    // signal after epoch 2, as Ctrl-C does in the CLI.
    const run = async (runDir: string, opts: { stopAfter?: number; resume?: string } = {}) => {
      const model = ml.buildBackbone(recipe.backbone);
      const loss = ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 10, m: 0.3 });
      const stop = new AbortController();
      const training = ml.train({
        model,
        backbone: recipe.backbone,
        loss,
        data,
        epochs: 4,
        batchSize: 16,
        progress: 'none',
        runDir,
        resume: opts.resume,
        seed: 4,
        signal: stop.signal,
        onEpochEnd: (row) => {
          if (row.epoch === opts.stopAfter) stop.abort();
        },
        ...recipe.opts,
      });
      if (opts.stopAfter !== undefined) {
        await assert.rejects(training, ml.TrainingInterruptedError);
        return null;
      }
      const r = await training;
      const weights = [...model.getWeights().map((w) => Array.from(w.dataSync())), Array.from(loss.W.dataSync())];
      return { r, weights };
    };
    const a = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-exact-a-'));
    const b = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-exact-b-'));
    const whole = (await run(a))!;
    await run(b, { stopAfter: 2 });
    assert.equal(JSON.parse(fs.readFileSync(path.join(b, 'checkpoint.json'), 'utf8')).epoch, 2);
    const resumed = (await run(b, { resume: path.join(b, 'checkpoint.json') }))!;
    assert.deepEqual(
      resumed.r.history.map((h) => h.loss),
      whole.r.history.map((h) => h.loss),
      `${recipe.name}: the per-epoch losses differ`,
    );
    whole.weights.forEach((w, i) => {
      const diff = w.findIndex((v, k) => v !== resumed.weights[i][k]);
      assert.equal(
        diff,
        -1,
        `${recipe.name}: weight tensor #${i} differs at ${diff}: ${w[diff]} vs ${resumed.weights[i][diff]}`,
      );
    });
    fs.rmSync(a, { recursive: true });
    fs.rmSync(b, { recursive: true });
  }
});

test("SGD's fused update (momentum, Nesterov or not, coupled weight decay) equals tfjs's MomentumOptimizer on decayed gradients, and their slots load in each other", async () => {
  const shapes = [[7, 5], [300], [3, 3, 2, 4]];
  const r = (seed: number) => {
    let x = seed;
    return () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  };
  for (const nesterov of [true, false]) {
    const rand = r(nesterov ? 3 : 4);
    const init = shapes.map((sh) => tf.tensor(Float32Array.from({ length: sh.reduce((a, b) => a * b, 1) }, rand), sh));
    const a = init.map((t, i) => tf.variable(t, true, `fusedsgd${nesterov}${i}`));
    const b = init.map((t, i) => tf.variable(t, true, `stocksgd${nesterov}${i}`));
    const wd = 5e-4;
    const fused = new DecayedMomentumOptimizer(0.1, 0.9, nesterov, wd);
    const stock = tf.train.momentum(0.1, 0.9, nesterov);
    for (let step = 0; step < 5; step++) {
      const lr = 0.1 * (1 - step / 10); // a schedule: the lr changes every step
      fused.setLearningRate(lr);
      stock.setLearningRate(lr);
      const grads = init.map((t) => tf.tensor(Float32Array.from({ length: t.size }, rand), t.shape));
      const before = tf.memory().numTensors;
      (fused as tf.Optimizer).applyGradients(Object.fromEntries(a.map((v, i) => [v.name, grads[i]])));
      if (step > 0) assert.equal(tf.memory().numTensors, before, 'the fused update leaves no tensors behind');
      tf.tidy(() =>
        stock.applyGradients(Object.fromEntries(b.map((v, i) => [v.name, tf.add(grads[i], tf.mul(v, wd))]))),
      );
      tf.dispose(grads);
    }
    a.forEach((v, i) => {
      const got = v.dataSync();
      const want = b[i].dataSync();
      let err = 0;
      let norm = 0;
      for (let k = 0; k < got.length; k++) {
        err += (got[k] - want[k]) ** 2;
        norm += want[k] ** 2;
      }
      assert.ok(
        Math.sqrt(err / norm) <= 1e-6,
        `nesterov ${nesterov}, variable ${i}: relative error ${Math.sqrt(err / norm)}`,
      );
    });
    // The same slots under the same names, in the same order: a checkpoint of either loads in the other.
    const wf = await fused.getWeights();
    const ws = await stock.getWeights();
    assert.deepEqual(
      wf.map((w) => w.name.replace('fused', '')),
      ws.map((w) => w.name.replace('stock', '')),
    );
    const reloaded = new DecayedMomentumOptimizer(0.1, 0.9, nesterov, wd);
    await reloaded.setWeights(ws);
    const back = await reloaded.getWeights();
    back.slice(1).forEach((w, i) => assert.deepEqual(w.tensor.dataSync(), ws[i + 1].tensor.dataSync()));
    fused.dispose();
    stock.dispose();
    reloaded.dispose();
    tf.dispose([...init, ...a, ...b]);
  }
});

test('train(): unknown option keys and a bad progress mode are refused, naming the key and the options', async () => {
  const data = toyData(32);
  const model = ml.buildBackbone(spec());
  const loss = ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 });
  const base = { model, backbone: spec(), loss, data, epochs: 1, batchSize: 16 };
  const before = Array.from(model.getWeights()[0].dataSync());
  await assert.rejects(
    ml.train({ ...base, learningRate: 5, epoch: 9 } as unknown as ml.TrainOptions),
    /train: "learningRate" \(did you mean lr\?\), "epoch" \(did you mean epochs\?\) are not options; train\(\) takes model, backbone, loss, data, epochs, batchSize/,
  );
  await assert.rejects(
    ml.train({ ...base, progress: 'bogus' } as unknown as ml.TrainOptions),
    /train: progress must be one of auto, tty, lines, notebook, none, got "bogus"/,
  );
  assert.deepEqual(Array.from(model.getWeights()[0].dataSync()), before, 'a refused call trained');
  model.dispose();
  loss.dispose();
});

test('labels outside the head are refused before the first step, naming the label and its index', async () => {
  const data = toyData();
  const y = Int32Array.from(data.y);
  y[100] = 9;
  const model = ml.buildBackbone(spec());
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  await assert.rejects(
    ml.train({
      model,
      backbone: spec(),
      loss: ml.arcFace({ numClasses: 4, embeddingDim: 3 }),
      data: { ...data, y },
      epochs: 1,
      progress: 'none',
    }),
    /train: label 9 at index 100 is outside 0\.\.3, the classes of arcface \(numClasses 4\); a subset's labels 0\.\.k−1 are its localY, not y/,
  );
  assert.deepEqual(
    model.getWeights().map((w) => Array.from(w.dataSync())),
    before,
    'a step was taken first',
  );
});
