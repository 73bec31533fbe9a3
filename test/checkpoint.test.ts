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

type Ck = Record<string, unknown> & {
  config: Record<string, unknown>;
  backbone: Record<string, unknown>;
  loss: Record<string, unknown>;
  model: Array<Record<string, unknown>>;
};

test('checkpoint schema: hand-edited fields are errors that name the field, the value and what was expected', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-ck-schema-'));
  const loss = ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 });
  await ml.train({
    model: ml.buildBackbone(spec),
    backbone: spec,
    loss,
    data: data(),
    epochs: 2,
    batchSize: 16,
    progress: 'none',
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
      /backbone\.embeddingDim must be an integer in \[1, 65536\], got 1000000000/,
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
    [
      'weights truncated',
      (c) => (c.model[0].data = String(c.model[0].data).slice(0, 8)),
      /model\[0\]\.data must be base64 of \d+ bytes \(shape \[36, 16\], 4 bytes each\), got "8 base64 characters"/,
    ],
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
      /config\.optimizer must be one of sgd, adam, got "rmsprop"/,
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
    ml.train({
      model: ml.buildBackbone(spec),
      backbone: spec,
      loss: ml.arcFace({ numClasses: 4, embeddingDim: 3, s: 8 }),
      data: data(),
      epochs: 3,
      batchSize: 16,
      progress: 'none',
      resume: file,
    }),
    /optimizer must hold the step count "iter" and 10 slot tensors \(adam, 5 trained tensors\), got 1 tensors starting with "iter"/,
  );
  fs.rmSync(dir, { recursive: true });
});
