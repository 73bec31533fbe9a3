#!/usr/bin/env node
/** `npm run embed -- --run runs/x --out emb.csv`: embeddings + labels of a split, for other tools. */
import * as path from 'path';
import { useBestBackend } from '../backend';
import { embedImagesAsync } from '../eval';
import { writeFileAtomic } from '../util/fs';
import {
  FlagSpec,
  loadRun,
  num,
  parseFlags,
  runCheckpoint,
  runMain,
  UsageError,
  checkOutputFile,
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
  split: { type: 'string', help: 'unseen, seen (test images) or train', default: 'unseen' },
  'per-class': { type: 'string', help: 'images per class (default: all)' },
  out: { type: 'string', help: 'output file: .csv (label,class,e0,e1,...) or .json' },
};

async function main(): Promise<void> {
  const v = parseFlags(
    process.argv.slice(2),
    FLAGS,
    `usage: ${commandLine('embed', '--run DIR --out FILE.csv|FILE.json [flags]')}\nExports embeddings and labels of a split.`,
  );
  if (typeof v.out !== 'string') throw new UsageError('--out FILE is required (.csv or .json)');
  const ext = path.extname(v.out).toLowerCase();
  if (ext !== '.csv' && ext !== '.json') throw new UsageError(`--out ${v.out}: the file must end in .csv or .json`);
  checkOutputFile('out', path.resolve(v.out));
  const which = String(v.split);
  if (!['unseen', 'seen', 'train'].includes(which))
    throw new UsageError(`--split ${JSON.stringify(which)}: expected unseen, seen or train`);
  await useBestBackend();
  const file = runCheckpoint(v);
  const perClass = num(v, 'per-class', { int: true, min: 1 });
  const { model, split } = loadRun(file, {
    testPerClass: perClass,
    trainPerClass: which === 'train' ? perClass : undefined,
  });
  const set = which === 'unseen' ? split.testUnseen : which === 'seen' ? split.testSeen : split.train;
  const { emb, dim } = await embedImagesAsync(model, set.x, set.shape);
  const n = set.y.length;
  let text: string;
  if (ext === '.csv') {
    const header = ['label', 'class', ...Array.from({ length: dim }, (_, k) => `e${k}`)].join(',');
    const rows = Array.from({ length: n }, (_, i) =>
      [
        set.y[i],
        JSON.stringify(set.classNames[set.y[i]] ?? String(set.y[i])),
        ...Array.from(emb.subarray(i * dim, (i + 1) * dim)),
      ].join(','),
    );
    text = [header, ...rows].join('\n') + '\n';
  } else {
    text = JSON.stringify({
      split: which,
      dim,
      classNames: set.classNames,
      labels: Array.from(set.y),
      embeddings: Array.from({ length: n }, (_, i) => Array.from(emb.subarray(i * dim, (i + 1) * dim))),
    });
  }
  writeFileAtomic(path.resolve(v.out), text);
  console.log(`wrote ${n} embeddings of dimension ${dim} (${which} classes ${set.classes.join(',')}) to ${v.out}`);
}

runMain(main);
