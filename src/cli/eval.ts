#!/usr/bin/env node
/** `npm run eval -- --run runs/x`: open-set metrics of a trained run on its unseen classes. */
import { useBestBackend } from '../backend';
import { embedImagesAsync, evaluateEmbeddings, formatReport } from '../eval';
import {
  FlagSpec,
  loadRun,
  num,
  parseFlags,
  runCheckpoint,
  runMain,
  UsageError,
  preloadRequired,
  REQUIRE_FLAG,
} from './common';
import { commandLine } from '../util/commands';

// Losses of your own (registerLoss) before anything reads a checkpoint.
preloadRequired();

const FLAGS: Record<string, FlagSpec> = {
  require: REQUIRE_FLAG,
  run: { type: 'string', help: 'run folder written by the train command' },
  checkpoint: { type: 'string', help: 'checkpoint file (instead of --run)' },
  split: { type: 'string', help: 'unseen (open-set) or seen (held-out images of training classes)', default: 'unseen' },
  'per-class': { type: 'string', help: 'test images per class (default: all)' },
  folds: { type: 'string', help: 'verification folds', default: '10' },
  'pairs-per-fold': {
    type: 'string',
    help: 'genuine (and impostor) pairs per fold (default 300, or as many as a smaller test set allows)',
  },
  json: { type: 'boolean', help: 'print the metrics as JSON' },
};

async function main(): Promise<void> {
  const v = parseFlags(
    process.argv.slice(2),
    FLAGS,
    `usage: ${commandLine('eval', '--run DIR [flags]')}\nEvaluates a run on the unseen classes of its open-set split.`,
  );
  const file = runCheckpoint(v);
  const which = String(v.split);
  if (which !== 'unseen' && which !== 'seen')
    throw new UsageError(`--split ${JSON.stringify(which)}: expected unseen or seen`);
  await useBestBackend({ print: !v.json });
  const { model, data, meta, split } = loadRun(file, { testPerClass: num(v, 'per-class', { int: true, min: 2 }) });
  const set = which === 'unseen' ? split.testUnseen : split.testSeen;
  const { emb, dim } = await embedImagesAsync(model, set.x, set.shape);
  const r = evaluateEmbeddings(emb, dim, set.y, {
    folds: num(v, 'folds', { int: true, min: 2 }),
    perFold: num(v, 'pairs-per-fold', { int: true, min: 1 }),
    seed: meta.seed,
  });
  if (v.json) {
    const { roc: _roc, scores: _s, same: _y, ...rest } = r;
    console.log(
      JSON.stringify({ checkpoint: file, split: which, classIds: set.classes, loss: data.loss, ...rest }, null, 2),
    );
  } else {
    console.log(
      formatReport(r, `${String(data.loss.loss)} on ${meta.dataset} ${which} classes ${set.classes.join(',')}`),
    );
  }
}

runMain(main);
