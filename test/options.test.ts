/**
 * Training options declared once (src/train/options.ts, src/models/options.ts): every declared
 * option's edges, probed through each of its consumers — the train command's flag parsing,
 * train()'s checks (planTraining), buildBackbone's checks and the checkpoint schema — must be
 * accepted or refused alike. A range written a second time anywhere shows up here as a
 * disagreement (as `--dropout 0.995` once trained and then could not be loaded).
 */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ml from 'margin-lab';
import { planTraining } from 'margin-lab/dist/train/trainer';
import { validateCheckpointFields } from 'margin-lab/dist/train/checkpoint-schema';
import { FLAGS, checkEnumFlags, numberFlag } from 'margin-lab/dist/cli/train';
import { toyImages } from './helpers/toy';

type Probe = { value: unknown; why: string };

/** Values at and just beyond each edge of a declared option, and values of the wrong type. */
function probes(d: ml.OptionDecl): Probe[] {
  if (d.type === 'boolean')
    return [
      { value: true, why: 'true' },
      { value: false, why: 'false' },
      { value: 'yes', why: 'a string' },
    ];
  if (d.type === 'enum')
    return [...(d.values ?? []).map((v) => ({ value: v, why: v })), { value: 'bogus', why: 'not one of the values' }];
  const r = d.range ?? {};
  const step = (x: number) => (r.int ? 1 : Math.max(1e-6, Math.abs(x) * 1e-6));
  const nums: Probe[] = [{ value: NaN, why: 'NaN' }];
  if (r.min !== undefined) {
    nums.push({ value: r.min, why: 'the lower bound' }, { value: r.min - step(r.min), why: 'below the lower bound' });
    if (r.minOpen) nums.push({ value: r.min + step(r.min), why: 'just above an open lower bound' });
  }
  if (r.max !== undefined) {
    nums.push({ value: r.max, why: 'the upper bound' }, { value: r.max + step(r.max), why: 'above the upper bound' });
    if (r.maxOpen) nums.push({ value: r.max - step(r.max), why: 'just below an open upper bound' });
  } else nums.push({ value: (r.min ?? 0) + 1000, why: 'well above the lower bound' });
  if (r.int) nums.push({ value: (r.min ?? 0) + 1.5, why: 'not an integer' });
  if (d.type === 'intList') return nums.map((p) => ({ value: [p.value], why: `a list holding ${p.why}` }));
  return nums;
}

let base: { ck: Record<string, unknown> };
const data = toyImages(16, 3, 6);
const spec: ml.BackboneSpec = { name: 'mlp', inputShape: [6, 6, 1], embeddingDim: 4, hidden: [8] };

before(async () => {
  await ml.useBestBackend();
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-options-'));
  const model = ml.buildBackbone(spec);
  const loss = ml.createLoss('softmax', { numClasses: 4, embeddingDim: 4 });
  await ml.train({ model, backbone: spec, loss, data, epochs: 1, maxStepsPerEpoch: 1, progress: 'none', runDir: run });
  base = { ck: JSON.parse(fs.readFileSync(path.join(run, 'checkpoint.json'), 'utf8')) };
  model.dispose();
  loss.dispose();
  fs.rmSync(run, { recursive: true });
});

/** Each consumer's verdict: true accepted, false refused (with an error naming the option), undefined where it does not take the option. */
type Verdict = boolean | undefined;

function refusedNaming(f: () => void, names: string[]): boolean {
  try {
    f();
    return true;
  } catch (e) {
    const msg = (e as Error).message;
    assert.ok(
      names.some((n) => msg.includes(n)),
      `the refusal should name ${names.join(' or ')}: ${msg}`,
    );
    return false;
  }
}

function viaCli(o: ml.ScopedOption, value: unknown): Verdict {
  const flag = o.decl.flag;
  if (!flag) return undefined;
  assert.ok(FLAGS[flag], `--${flag} is declared but the train command has no such flag`);
  if (o.decl.type === 'boolean') {
    assert.equal(FLAGS[flag].type, 'boolean', `--${flag} is a switch`);
    return typeof value === 'boolean'; // a switch is given or not: no other value can reach it
  }
  if (o.decl.type === 'enum') return refusedNaming(() => checkEnumFlags({ [flag]: value }), [`--${flag}`]);
  return refusedNaming(() => numberFlag({ [flag]: String(value) }, flag), [`--${flag}`]);
}

function viaTrain(o: ml.ScopedOption, value: unknown): Verdict {
  if (o.scope !== 'config' && o.scope !== 'schedule') return undefined;
  const model = ml.buildBackbone(spec);
  const loss = ml.createLoss('softmax', { numClasses: 4, embeddingDim: 4 });
  try {
    const opts: Record<string, unknown> = { model, backbone: spec, loss, data, epochs: 1 };
    // The SGD-only options are probed on SGD.
    if (o.key === 'momentum' || o.key === 'nesterov') opts.optimizer = 'sgd';
    if (o.scope === 'schedule') opts.schedule = o.key === 'type' ? { type: value } : { type: 'step', [o.key]: value };
    else opts[o.key] = value;
    return refusedNaming(() => planTraining(opts as unknown as ml.TrainOptions), [o.key]);
  } finally {
    model.dispose();
    loss.dispose();
  }
}

function viaBackbone(o: ml.ScopedOption, value: unknown): Verdict {
  if (o.scope !== 'backbone' || o.key === 'name') return undefined;
  // The neck layout needs the reference net with its neck, BatchNorm a conv net, dropout the neck.
  const s: Record<string, unknown> =
    o.key === 'neckLayout' || o.key === 'batchNorm'
      ? { name: 'reference', inputShape: [8, 8, 1], embeddingDim: 4, neck: true }
      : { ...spec, ...(o.key === 'dropout' ? { neck: true } : {}) };
  s[o.key] = value;
  let model: { dispose(): void } | undefined;
  const verdict = refusedNaming(() => (model = ml.buildBackbone(s as unknown as ml.BackboneSpec)), [o.key]);
  model?.dispose();
  return verdict;
}

function viaCheckpoint(o: ml.ScopedOption, value: unknown): Verdict {
  if (!o.decl.checkpoint) return undefined;
  const ck = JSON.parse(JSON.stringify(base.ck)) as Record<string, Record<string, unknown>>;
  if (o.scope === 'backbone') {
    ck.backbone[o.key] = value;
    delete ck.loss.embeddingDim; // checked against the backbone's; the probe is about the backbone's range
    if (o.key === 'dropout' || o.key === 'neckLayout') ck.backbone.neck = true;
  } else if (o.scope === 'schedule') ck.config.schedule = { type: 'step', [o.key]: value };
  else ck.config[o.key] = value;
  // JSON has no NaN: what a hand edit can write there is null.
  const written = JSON.parse(JSON.stringify(ck, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
  return refusedNaming(() => validateCheckpointFields(written, 'checkpoint.json'), [o.key]);
}

test('every declared training and backbone option is accepted and refused alike by the train command, train(), buildBackbone and the checkpoint schema', () => {
  const disagreements: string[] = [];
  let compared = 0;
  for (const o of ml.TRAINING_OPTIONS) {
    for (const p of probes(o.decl)) {
      const verdicts: Record<string, Verdict> = {
        'train command': viaCli(o, p.value),
        'train()': viaTrain(o, p.value),
        buildBackbone: viaBackbone(o, p.value),
        'checkpoint schema': viaCheckpoint(o, p.value),
      };
      const expected = ml.acceptsValue(o.decl, p.value);
      const given = Object.entries(verdicts).filter(([, v]) => v !== undefined);
      for (const [who, v] of given) {
        compared++;
        if (v !== expected)
          disagreements.push(
            `${o.scope}.${o.key} = ${JSON.stringify(p.value)} (${p.why}): ${who} ${v ? 'accepts' : 'refuses'} it, the declaration (${ml.expectedText(o.decl)}) ${expected ? 'accepts' : 'refuses'} it`,
          );
      }
    }
  }
  assert.deepEqual(disagreements, []);
  assert.ok(compared > 150, `only ${compared} comparisons`);
});

test('each consumer takes what its scope says: every flag-bearing option reaches the train command, config and schedule options train(), backbone options buildBackbone, kept ones the schema', () => {
  for (const o of ml.TRAINING_OPTIONS) {
    const value = o.decl.type === 'boolean' ? true : o.decl.type === 'enum' ? o.decl.values![0] : undefined;
    if (value === undefined) continue;
    if (o.decl.flag) assert.ok(FLAGS[o.decl.flag], `--${o.decl.flag}`);
    if (o.decl.checkpoint)
      assert.equal(viaCheckpoint(o, value), true, `${o.scope}.${o.key} = ${String(value)} in a checkpoint`);
  }
  // The flag help shows the declared range: one text for the flag and the refusals.
  assert.match(FLAGS.dropout.help, /a number in \[0, 1\)/);
  assert.match(FLAGS.dim.help, /an integer in \[1, 4096\]/);
});
