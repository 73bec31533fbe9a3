#!/usr/bin/env node
/**
 * `npm run export -- --run runs/x --out DIR`: the run's network as a TF.js LayersModel with meta.json
 * (input, normalisation, embedding size, loss, the threshold at FAR 1e-3 measured on the run's
 * unseen test images) and a README. `npm run demo -- --run runs/x` also writes the verification page.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { useBestBackend } from '../backend';
import { exportRun } from '../export';
import {
  checkOutputDir,
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
  out: { type: 'string', help: 'bundle folder (default for --demo: <run>/demo)' },
  demo: { type: 'boolean', help: 'also write the verification page (index.html), which works offline' },
  'demo-classes': { type: 'string', help: 'unseen classes in the page sample strip (with --demo)', default: '24' },
  'demo-per-class': { type: 'string', help: 'images of each of them (with --demo)', default: '4' },
  overwrite: {
    type: 'boolean',
    help: 'write into a folder that already holds files (replacing the bundle files only)',
  },
};

async function main(): Promise<void> {
  const given = new Set<string>();
  const v = parseFlags(
    process.argv.slice(2),
    FLAGS,
    `usage: ${commandLine('export', '--run DIR --out DIR [--demo]')}\n       ${commandLine('demo', '--run DIR [--out DIR]')}\nWrites a trained run as a TF.js model bundle (model.json, weights.bin, meta.json, README.md), and with --demo a page that runs it in the browser.`,
    given,
  );
  const file = runCheckpoint(v);
  if (!v.demo)
    for (const f of ['demo-classes', 'demo-per-class'])
      if (given.has(f)) throw new UsageError(`--${f} applies only with --demo (${commandLine('demo')})`);
  if (typeof v.out !== 'string' && !v.demo) throw new UsageError('--out DIR is required (the bundle folder)');
  const out = path.resolve(typeof v.out === 'string' ? v.out : path.join(path.dirname(file), 'demo'));
  checkOutputDir('out', out);
  if (fs.existsSync(out) && fs.readdirSync(out).length && !v.overwrite)
    throw new UsageError(
      `--out ${out}: the folder already holds files; nothing was changed. Choose another folder, or pass --overwrite to replace the bundle's files in it.`,
    );
  await useBestBackend();
  const { model, data, meta, split } = loadRun(file);
  const result = await exportRun({
    model,
    data,
    checkpoint: file,
    evalSet: split.testUnseen,
    out,
    seed: meta.seed,
    demo: !!v.demo,
    demoClasses: num(v, 'demo-classes', { int: true, min: 1 }),
    demoPerClass: num(v, 'demo-per-class', { int: true, min: 1 }),
  });
  const t = result.threshold;
  console.log(
    `wrote ${out}: model.json, weights.bin, meta.json, README.md${v.demo ? ', index.html (+ demo.js, bundle.js, TF.js)' : ''}`,
  );
  console.log(
    `threshold at FAR ${t.far}: cosine ≥ ${t.cosine.toFixed(4)} (TAR ${(100 * t.tar).toFixed(2)} % on ${t.measuredOn.classes} unseen classes, ${t.measuredOn.impostorPairs} impostor pairs)`,
  );
  if (v.demo) console.log(`open ${pathToFileURL(path.join(out, 'index.html')).href} in a browser (works offline)`);
  else
    console.log(
      // JavaScript string literals (JSON's quoting is valid JavaScript), whatever the path holds.
      `load it with tf.loadLayersModel(${JSON.stringify(`file://${path.join(out, 'model.json')}`)}) (tfjs-node) or loadEmbeddingModel(${JSON.stringify(out)})`,
    );
}

runMain(main);
