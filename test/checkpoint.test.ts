/**
 * The checkpoint schema: every hand edit the reliability review tried is an error naming the
 * field, the value and what was expected, raised at load before anything is built.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ml from 'margin-lab';
import { ROOT } from './helpers/paths';
import { readCheckpoint } from 'margin-lab/dist/train/checkpoint';

const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [6, 6, 1], embeddingDim: 3, hidden: [16], seed: 2 };

function data(): ml.TrainData {
  const r = new ml.Rng(5);
  const n = 64;
  return {
    x: new Float32Array(n * 36).map(() => r.next()),
    y: Int32Array.from({ length: n }, (_, i) => i % 4),
    shape: [6, 6, 1],
  };
}

/** The small ArcFace run these tests share (the spec above, 4 classes, batches of 16); `opts` adds or replaces options. */
function trainSmall(opts: Partial<ml.TrainOptions> & { epochs: number }): Promise<ml.TrainResult> {
  return ml.train({
    model: ml.buildBackbone(spec),
    backbone: spec,
    loss: ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 }),
    data: data(),
    batchSize: 16,
    progress: 'none',
    ...opts,
  });
}

type Ck = Record<string, unknown> & {
  config: Record<string, unknown>;
  backbone: Record<string, unknown>;
  loss: Record<string, unknown>;
  model: Array<Record<string, unknown>>;
  files?: Record<string, unknown>;
};

test('checkpoint schema: hand-edited fields are errors that name the field, the value and what was expected', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ck-schema-'));
  await trainSmall({
    epochs: 2,
    runDir: dir,
    meta: { dataset: 'fashion-mnist', seen: [0, 1, 2, 3], unseen: [4, 5], lossName: 'arcface' },
  });
  const file = path.join(dir, 'checkpoint.json');
  const base = fs.readFileSync(file, 'utf8');
  assert.doesNotThrow(() => ml.loadForInference(file), 'the real checkpoint loads');
  const cases: Array<[string, (c: Ck) => void, RegExp]> = [
    [
      'seen deleted',
      (c) => delete c.config.seen,
      /config\.seen must be the seen classes \(a list: the run names a dataset\), got nothing \(the field is missing\)/,
    ],
    ['seen "0-4"', (c) => (c.config.seen = '0-4'), /config\.seen must be a list, got "0-4"/],
    ['history null', (c) => (c.history = null), /history must be a list, got null/],
    [
      'history short',
      (c) => (c.history = (c.history as unknown[]).slice(1)),
      /history must be one row per epoch \(2\), got "1 rows"/,
    ],
    [
      'no model',
      (c) => delete (c as Record<string, unknown>).model,
      /model must be a list, got nothing \(the field is missing\)/,
    ],
    [
      'embeddingDim 1e9',
      (c) => (c.backbone.embeddingDim = 1e9),
      /backbone\.embeddingDim must be an integer in \[1, 4096\], got 1000000000/,
    ],
    ['int32 weights', (c) => (c.model[0].dtype = 'int32'), /model\[0\]\.dtype must be one of float32, got "int32"/],
    [
      'negative inputShape',
      (c) => (c.backbone.inputShape = [-6, 6, 1]),
      /backbone\.inputShape\[0\] must be an integer in \[1, 4096\], got -6/,
    ],
    ['epoch -3', (c) => (c.epoch = -3), /epoch must be an integer in \[1, 2\], got -3/],
    ['epoch "1"', (c) => (c.epoch = '1'), /epoch must be an integer in \[1, 2\], got "1"/],
    ['epoch beyond the run', (c) => (c.epoch = 7), /epoch must be an integer in \[1, 2\], got 7/],
    ['optimizer not a list', (c) => (c.optimizer = {}), /optimizer must be a list, got \{\}/],
    ['negative offset', (c) => (c.model[0].offset = -4), /model\[0\]\.offset must be an integer in \[0, \d+\], got -4/],
    [
      'weights outside the folder',
      (c) => ((c.files as Record<string, unknown>).weights = '../../etc/passwd'),
      /files\.weights must be a file name model\/weights-<step>-<8 hex digits>\.bin, got "\.\.\/\.\.\/etc\/passwd"/,
    ],
    ['no files', (c) => delete c.files, /files must be an object, got nothing \(the field is missing\)/],
    [
      'another loss name',
      (c) => (c.loss.loss = 'cosface'),
      /config\.lossName must be the loss the options belong to, "cosface", got "arcface"/,
    ],
    ['unknown loss', (c) => (c.loss.loss = 'arcfase'), /loss\.loss must be one of softmax, .*arcface.*, got "arcfase"/],
    [
      'loss dim differs',
      (c) => (c.loss.embeddingDim = 5),
      /loss\.embeddingDim must be the backbone's embeddingDim 3, got 5/,
    ],
    [
      'unknown optimizer',
      (c) => (c.config.optimizer = 'rmsprop'),
      /config\.optimizer must be one of adam, sgd, got "rmsprop"/,
    ],
    ['rngState negative', (c) => (c.rngState = -1), /rngState must be an integer in \[0, 4294967295\], got -1/],
    ['not an object', () => undefined, /expected a JSON object, got \[\]/],
  ];
  for (const [name, edit, want] of cases) {
    const c = JSON.parse(base) as Ck;
    edit(c);
    fs.writeFileSync(file, name === 'not an object' ? '[]' : JSON.stringify(c));
    assert.throws(() => ml.loadForInference(file), want, name);
    assert.throws(
      () => ml.loadForInference(file),
      new RegExp(`checkpoint ${file.replace(/[/\\.]/g, '\\$&')}`),
      `${name}: the error names the file`,
    );
  }
  // A folder where the file should be.
  assert.throws(() => ml.loadForInference(dir), /is a folder, expected a checkpoint\.json file/);

  // The optimizer's slots are checked against the run that resumes it.
  const c = JSON.parse(base) as Ck;
  c.optimizer = (c.optimizer as unknown[]).slice(0, 1);
  fs.writeFileSync(file, JSON.stringify(c));
  await assert.rejects(
    trainSmall({ epochs: 3, resume: file }),
    /optimizer must hold the step count "iter" and 10 slot tensors \(adam, 5 trained tensors\), got 1 tensors starting with "iter"/,
  );
  fs.rmSync(dir, { recursive: true });
});

const files = (dir: string) =>
  fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => !fs.statSync(path.join(dir, f)).isDirectory())
    .sort();

test('a run folder holds checkpoint.json (no tensors), state-*.bin and a TF.js LayersModel in model/; the binaries are checked against checkpoint.json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ck-v2-'));
  const model = ml.buildBackbone(spec);
  await trainSmall({ model, epochs: 3, runDir: dir });
  const ck = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8'));
  assert.equal(ck.version, ml.CHECKPOINT_VERSION);
  assert.equal(ml.CHECKPOINT_VERSION, 2);
  // One save's binaries: the two earlier epochs' were removed once the third was committed.
  assert.deepEqual(files(dir), ['checkpoint.json', ck.files.state, ck.files.model, ck.files.weights].sort());
  assert.match(ck.files.weights, /^model\/weights-\d+-[0-9a-f]{8}\.bin$/);
  assert.ok(!/"data":/.test(JSON.stringify(ck)), 'checkpoint.json holds no tensor data');
  // The weights file is exactly the model's float32 weights; the state file W (4×3), Adam's 10 slots, the step count and β powers.
  const nWeights = model.weights.reduce((a, w) => a + w.read().size, 0);
  assert.equal(fs.statSync(path.join(dir, ck.files.weights)).size, nWeights * 4);
  const stateBytes = fs.statSync(path.join(dir, ck.files.state)).size;
  assert.equal(stateBytes, (12 + 2 * (nWeights + 12) + 1 + 2) * 4);

  // TF.js's own loader reads model/model.json: the same embeddings.
  const mj = JSON.parse(fs.readFileSync(path.join(dir, 'model', 'model.json'), 'utf8'));
  assert.equal(mj.format, 'layers-model');
  assert.deepEqual(mj.weightsManifest[0].paths, [path.basename(ck.files.weights)]);
  assert.equal(mj.userDefinedMetadata.marginLab.loss, 'arcface');
  const loaded = await ml.loadEmbeddingModel(dir);
  const probe = ml.tf.tensor4d(
    Array.from({ length: 5 * 36 }, (_, i) => Math.cos(i * 0.7)),
    [5, 6, 6, 1],
  );
  const want = ml.tf.tidy(() => Array.from((model.predict(probe) as ml.tf.Tensor).dataSync()));
  const got = ml.tf.tidy(() => Array.from((loaded.predict(probe) as ml.tf.Tensor).dataSync()));
  assert.deepEqual(got, want);
  const viaCheckpoint = ml.loadForInference(path.join(dir, 'checkpoint.json'));
  assert.deepEqual(
    ml.tf.tidy(() => Array.from((viaCheckpoint.model.predict(probe) as ml.tf.Tensor).dataSync())),
    want,
  );
  probe.dispose();

  // Damaged or missing binaries are errors naming the file.
  const file = path.join(dir, 'checkpoint.json');
  const wFile = path.join(dir, ck.files.weights);
  const wBytes = fs.readFileSync(wFile);
  fs.writeFileSync(wFile, wBytes.subarray(0, 100));
  assert.throws(
    () => ml.loadForInference(file),
    new RegExp(
      `checkpoint .*checkpoint\\.json: ${ck.files.weights} has 100 bytes, expected ${nWeights * 4} \\(the tensors checkpoint\\.json lists\\); it is truncated or from another save`,
    ),
  );
  fs.writeFileSync(wFile, wBytes);
  const sFile = path.join(dir, ck.files.state);
  fs.renameSync(sFile, sFile + '.moved');
  assert.throws(
    () => ml.loadForInference(file),
    /its state file state-\d+-[0-9a-f]{8}\.bin is missing \(deleted, or the run folder was copied without it\)/,
  );
  fs.rmSync(dir, { recursive: true });
});

test('every backbone (with BN and the neck) round-trips through model/model.json and TF.js loadLayersModel', async () => {
  const specs: ml.BackboneSpec[] = [
    { name: 'mlp', inputShape: [8, 8, 1], embeddingDim: 4, hidden: [12], neck: true, dropout: 0.1 },
    { name: 'lenetpp', inputShape: [8, 8, 1], embeddingDim: 4, width: 0.125, batchNorm: true },
    { name: 'resnet', inputShape: [8, 8, 1], embeddingDim: 4, width: 0.25, batchNorm: true, neck: true },
    { name: 'reference', inputShape: [8, 8, 1], embeddingDim: 4, batchNorm: true, neck: true },
    { name: 'reference', inputShape: [8, 8, 1], embeddingDim: 4, batchNorm: true, neck: true, neckLayout: 'bn2d' },
  ];
  const r = new ml.Rng(3);
  const train: ml.TrainData = {
    x: new Float32Array(32 * 64).map(() => r.next()),
    y: Int32Array.from({ length: 32 }, (_, i) => i % 4),
    shape: [8, 8, 1],
  };
  const probe = ml.tf.tensor4d(
    Array.from({ length: 3 * 64 }, (_, i) => Math.sin(i * 0.3)),
    [3, 8, 8, 1],
  );
  for (const s of specs) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ml-ck-${s.name}-`));
    const model = ml.buildBackbone(s);
    await ml.train({
      model,
      backbone: s,
      loss: ml.cosFace({ numClasses: 4, embeddingDim: 4, s: 8 }),
      data: train,
      epochs: 1,
      batchSize: 16,
      progress: 'none',
      runDir: dir,
    });
    const loaded = await ml.loadEmbeddingModel(path.join(dir, 'model', 'model.json'));
    const a = ml.tf.tidy(() => Array.from((model.predict(probe) as ml.tf.Tensor).dataSync()));
    const b = ml.tf.tidy(() => Array.from((loaded.predict(probe) as ml.tf.Tensor).dataSync()));
    assert.equal(b.length, 12, s.name);
    const diff = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    assert.ok(diff <= 1e-6, `${s.name}: the loaded model differs by ${diff}`);
    assert.ok(
      a.some((v) => Math.abs(v) > 1e-3),
      `${s.name}: the embeddings are not all zero`,
    );
    fs.rmSync(dir, { recursive: true });
  }
  probe.dispose();
});

test("checkpoints record the reference net's neck layout; one written before the layout existed loads as 'relu-bn', the only layout then", async () => {
  const r = new ml.Rng(4);
  const data: ml.TrainData = {
    x: new Float32Array(32 * 64).map(() => r.next()),
    y: Int32Array.from({ length: 32 }, (_, i) => i % 4),
    shape: [8, 8, 1],
  };
  const probe = ml.tf.tensor4d(
    Array.from({ length: 2 * 64 }, (_, i) => Math.cos(i * 0.7)),
    [2, 8, 8, 1],
  );
  const base: ml.BackboneSpec = {
    name: 'reference',
    inputShape: [8, 8, 1],
    embeddingDim: 4,
    batchNorm: true,
    neck: true,
  };
  for (const layout of [undefined, 'relu-bn'] as const) {
    const spec: ml.BackboneSpec = layout ? { ...base, neckLayout: layout } : base;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ck-layout-'));
    const model = ml.buildBackbone(spec);
    await ml.train({
      model,
      backbone: spec,
      loss: ml.arcFace({ numClasses: 4, embeddingDim: 4, s: 8 }),
      data,
      epochs: 1,
      batchSize: 16,
      progress: 'none',
      runDir: dir,
    });
    const file = path.join(dir, 'checkpoint.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    // The default is written out: a later default cannot change what the weights mean.
    assert.equal(json.backbone.neckLayout, layout ?? 'bn-relu');
    const want = ml.tf.tidy(() => Array.from((model.predict(probe) as ml.tf.Tensor).dataSync()));
    if (layout === 'relu-bn') {
      // As a checkpoint from before the field: no neckLayout, and still the relu-bn weights.
      delete json.backbone.neckLayout;
      fs.writeFileSync(file, JSON.stringify(json));
      assert.equal(readCheckpoint(file).backbone.neckLayout, 'relu-bn');
    }
    const loaded = ml.loadForInference(file);
    const got = ml.tf.tidy(() => Array.from((loaded.model.predict(probe) as ml.tf.Tensor).dataSync()));
    assert.deepEqual(got, want, `layout ${layout ?? 'default'}`);
    loaded.model.dispose();
    loaded.loss.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true });
  }
  probe.dispose();
});

test('version-1 checkpoints (written by margin-lab before the model files) still load, resume, and then save as version 2', async () => {
  const fixture = path.join(ROOT, 'test', 'fixtures', 'checkpoint-v1');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ck-v1-'));
  fs.copyFileSync(path.join(fixture, 'checkpoint.json'), path.join(dir, 'checkpoint.json'));
  const file = path.join(dir, 'checkpoint.json');
  const want = JSON.parse(fs.readFileSync(path.join(fixture, 'probe.json'), 'utf8')) as {
    embeddings: number[][];
    W: number[];
  };
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).version, 1);
  const { model, loss } = ml.loadForInference(file);
  const probe = ml.tf.tensor4d(
    Array.from({ length: 2 * 36 }, (_, i) => Math.sin(i)),
    [2, 6, 6, 1],
  );
  const got = ml.tf.tidy(() => (model.predict(probe) as ml.tf.Tensor).arraySync() as number[][]);
  probe.dispose();
  const diff = Math.max(...got.flat().map((v, i) => Math.abs(v - want.embeddings.flat()[i])));
  assert.ok(diff < 1e-5, `the version-1 model gives other embeddings (max difference ${diff})`);
  assert.deepEqual(Array.from((loss as unknown as { W: ml.tf.Variable }).W.dataSync()), want.W);
  // A version-1 run folder has no model files: the error says what to do.
  await assert.rejects(ml.loadEmbeddingModel(dir), /its checkpoint\.json is version 1, which had no model files/);
  // Damage in a version-1 file is still named.
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  const bad = { ...c, model: [{ ...c.model[0], data: String(c.model[0].data).slice(0, 8) }, ...c.model.slice(1)] };
  fs.writeFileSync(path.join(dir, 'bad.json'), JSON.stringify(bad));
  assert.throws(
    () => ml.loadForInference(path.join(dir, 'bad.json')),
    /model\[0\]\.data must be base64 of \d+ bytes \(shape \[36, 16\], 4 bytes each\), got "8 base64 characters"/,
  );
  fs.rmSync(path.join(dir, 'bad.json'));
  // Resumed, it goes on from epoch 2 and is saved in the new format.
  await trainSmall({ epochs: 3, resume: file, runDir: dir });
  const after = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(after.version, 2);
  assert.equal(after.epoch, 3);
  assert.equal(after.history.length, 3);
  assert.ok(fs.existsSync(path.join(dir, 'model', 'model.json')));
  await ml.loadEmbeddingModel(dir);
  fs.rmSync(dir, { recursive: true });
});
