#!/usr/bin/env node
/** `npm run train -- --loss arcface --dataset fashion-mnist --seen 0-4 --dim 64` */
import * as fs from 'fs';
import * as path from 'path';
import { useBestBackend } from '../backend';
import { createLoss, LOSS_NAMES, PAIR_LOSSES, LossName } from '../losses';
import { BACKBONES, BackboneSpec, buildBackbone, BackboneName } from '../models';
import { readCheckpoint, train } from '../train';
import { classes, FlagSpec, makeSplit, num, parseFlags, runMain, UsageError } from './common';

const FLAGS: Record<string, FlagSpec> = {
  loss: { type: 'string', help: `loss: ${LOSS_NAMES.join(', ')}`, default: 'arcface' },
  dataset: { type: 'string', help: 'fashion-mnist or mnist', default: 'fashion-mnist' },
  seen: { type: 'string', help: 'classes to train on, e.g. 0-4 or 0,2,4', default: '0-4' },
  unseen: { type: 'string', help: 'classes held out for evaluation (default: all others)' },
  backbone: { type: 'string', help: `backbone: ${BACKBONES.join(', ')}`, default: 'reference' },
  width: { type: 'string', help: 'channel multiplier of conv backbones', default: '1' },
  dim: { type: 'string', help: 'embedding dimension', default: '64' },
  epochs: { type: 'string', help: 'epochs', default: '3' },
  batch: { type: 'string', help: 'batch size', default: '128' },
  optimizer: { type: 'string', help: 'adam or sgd (with momentum)', default: 'adam' },
  lr: { type: 'string', help: 'learning rate (default 1e-3 adam, 0.05 sgd)' },
  momentum: { type: 'string', help: 'SGD momentum', default: '0.9' },
  schedule: { type: 'string', help: 'constant, step or cosine', default: 'constant' },
  warmup: { type: 'string', help: 'warm-up steps', default: '0' },
  s: { type: 'string', help: 'scale s of normalized softmax losses' },
  m: { type: 'string', help: 'margin m (cosface, arcface, sphereface, curricularface, adaface)' },
  m1: { type: 'string', help: 'combined margin m1' },
  m2: { type: 'string', help: 'combined margin m2' },
  m3: { type: 'string', help: 'combined margin m3' },
  K: { type: 'string', help: 'sub-centers per class (subcenter-arcface)' },
  margin: { type: 'string', help: 'margin of contrastive / triplet losses' },
  miner: { type: 'string', help: 'triplet miner: batchAll, batchHard, semiHard' },
  'train-per-class': { type: 'string', help: 'training images per seen class (default: all)' },
  'max-steps': { type: 'string', help: 'cap on steps per epoch' },
  seed: { type: 'string', help: 'seed for split, init and shuffling', default: '1' },
  run: { type: 'string', help: 'run folder for checkpoint.json and history.csv (default runs/<loss>-<time>)' },
  resume: { type: 'boolean', help: 'continue the run in --run from its checkpoint' },
};

async function main(): Promise<void> {
  const v = parseFlags(process.argv.slice(2), FLAGS, 'usage: npm run train -- [flags]\nTrains a backbone with a loss on the seen classes of an open-set split and writes a checkpoint.');
  const lossName = String(v.loss);
  if (!(LOSS_NAMES as readonly string[]).includes(lossName)) throw new UsageError(`--loss ${JSON.stringify(lossName)}: expected one of ${LOSS_NAMES.join(', ')}`);
  const backboneName = String(v.backbone);
  if (!(BACKBONES as readonly string[]).includes(backboneName)) throw new UsageError(`--backbone ${JSON.stringify(backboneName)}: expected one of ${BACKBONES.join(', ')}`);
  const dim = num(v, 'dim', { int: true, min: 1 })!;
  const seed = num(v, 'seed', { int: true, min: 0 })!;
  const seen = classes(String(v.seen), 'seen');
  const unseen = typeof v.unseen === 'string' ? classes(v.unseen, 'unseen') : [];
  const runDir = path.resolve(typeof v.run === 'string' ? v.run : path.join('runs', `${lossName}-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const resumeFile = v.resume ? path.join(runDir, 'checkpoint.json') : undefined;
  if (resumeFile && !fs.existsSync(resumeFile)) throw new UsageError(`--resume: no checkpoint in ${runDir}`);

  const report = await useBestBackend();
  const meta = {
    dataset: String(v.dataset), seen, unseen, seed,
    trainPerClass: num(v, 'train-per-class', { int: true, min: 1 }),
  };
  const split = makeSplit(meta);
  const spec: BackboneSpec = { name: backboneName as BackboneName, inputShape: split.train.shape, embeddingDim: dim, width: num(v, 'width', { min: 0.01 }), seed };
  const params: Record<string, unknown> = { numClasses: seen.length, embeddingDim: dim, seed };
  for (const k of ['s', 'm', 'm1', 'm2', 'm3', 'K', 'margin']) if (v[k] !== undefined) params[k] = num(v, k);
  if (v.miner !== undefined) params.miner = v.miner;
  if (resumeFile) {
    const old = readCheckpoint(resumeFile);
    Object.assign(params, old.loss);
  }
  const loss = createLoss(lossName, params as never);
  const model = buildBackbone(spec);
  console.log(`training ${lossName} on ${meta.dataset} classes ${seen.join(',')} (${split.train.y.length} images), unseen ${split.unseenClasses.join(',')}; backbone ${backboneName}, dim ${dim}; run ${runDir}`);
  const result = await train({
    model, backbone: spec, loss,
    data: { x: split.train.x, y: split.train.localY, shape: split.train.shape },
    epochs: num(v, 'epochs', { int: true, min: 1 })!,
    batchSize: num(v, 'batch', { int: true, min: 2 }),
    optimizer: String(v.optimizer) as 'adam' | 'sgd',
    lr: num(v, 'lr', { min: 0 }),
    momentum: num(v, 'momentum', { min: 0 }),
    schedule: { type: String(v.schedule) as 'constant', warmupSteps: num(v, 'warmup', { int: true, min: 0 }) },
    seed,
    maxStepsPerEpoch: num(v, 'max-steps', { int: true, min: 1 }),
    runDir,
    resume: resumeFile,
    meta: { ...meta, unseen: split.unseenClasses, backend: report.line, pairLoss: (PAIR_LOSSES as readonly string[]).includes(lossName as LossName) },
  });
  const keys = Object.keys(result.history[0] ?? {});
  const csv = [keys.join(','), ...result.history.map((r) => keys.map((k) => r[k]).join(','))].join('\n') + '\n';
  fs.writeFileSync(path.join(runDir, 'history.csv'), csv);
  console.log(`wrote ${result.checkpoint} and ${path.join(runDir, 'history.csv')}`);
  console.log(`evaluate with: npm run eval -- --run ${path.relative(process.cwd(), runDir) || '.'}`);
}

runMain(main);
