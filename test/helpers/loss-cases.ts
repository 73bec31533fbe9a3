/**
 * The loss cases both float64 reference suites use: losses.test.ts on the default backend and
 * webgpu.test.ts on WebGPU. Each case names a library loss and its float64 reference.
 */
import * as L from 'margin-lab';
import * as R from '../reference/losses64';
import { rng } from './numeric';

export type Mat = number[][];

export function randMat(rows: number, cols: number, seed: number, scale = 1): Mat {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => scale * (2 * r() - 1)));
}

export function randLabels(n: number, c: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * c));
}

export const flat = (m: Mat) => m.flat();

export interface HeadCase {
  name: string;
  make: (W: Mat, C: number, D: number) => L.EmbeddingLoss;
  ref: (x: Mat, W: Mat, labels: number[]) => number;
  /** Weight columns per class (sub-centers). */
  K?: number;
  /** Norm of random embeddings. */
  scale?: number;
}

export const headCases: HeadCase[] = [
  {
    name: 'normFace s=16',
    make: (W, C, D) => L.normFace({ numClasses: C, embeddingDim: D, weights: W, s: 16 }),
    ref: (x, W, y) => R.normFaceRef(x, W, y, 16),
  },
  {
    name: 'cosFace s=64 m=0.35',
    make: (W, C, D) => L.cosFace({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.cosFaceRef(x, W, y, 64, 0.35),
  },
  {
    name: 'arcFace s=64 m=0.5',
    make: (W, C, D) => L.arcFace({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.arcFaceRef(x, W, y, 64, 0.5),
  },
  {
    name: 'arcFace easyMargin s=30 m=0.4',
    make: (W, C, D) => L.arcFace({ numClasses: C, embeddingDim: D, weights: W, s: 30, m: 0.4, easyMargin: true }),
    ref: (x, W, y) => R.arcFaceRef(x, W, y, 30, 0.4, true),
  },
  {
    name: 'arcFace m=1.4 (fallback region often hit)',
    make: (W, C, D) => L.arcFace({ numClasses: C, embeddingDim: D, weights: W, s: 16, m: 1.4 }),
    ref: (x, W, y) => R.arcFaceRef(x, W, y, 16, 1.4),
  },
  {
    name: 'sphereFace m=4 λ=5 (‖x‖ scale)',
    make: (W, C, D) => L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, lambda: 5 }),
    ref: (x, W, y) => R.sphereFaceRef(x, W, y, 4, 5, false),
    scale: 1.5,
  },
  {
    name: 'sphereFace m=3 λ=0 (‖x‖ scale)',
    make: (W, C, D) => L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, m: 3, lambda: 0 }),
    ref: (x, W, y) => R.sphereFaceRef(x, W, y, 3, 0, false),
    scale: 1.5,
  },
  {
    name: 'sphereFace normalized m=4 s=30 λ=0',
    make: (W, C, D) => L.sphereFace({ numClasses: C, embeddingDim: D, weights: W, normalized: true, lambda: 0 }),
    ref: (x, W, y) => R.sphereFaceRef(x, W, y, 4, 0, true, 30),
  },
  {
    name: 'combined (1, 0.3, 0.2)',
    make: (W, C, D) => L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W }),
    ref: (x, W, y) => R.combinedRef(x, W, y, 64, 1, 0.3, 0.2),
  },
  {
    name: 'combined (0.9, 0.4, 0.15)',
    make: (W, C, D) =>
      L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, s: 32, m1: 0.9, m2: 0.4, m3: 0.15 }),
    ref: (x, W, y) => R.combinedRef(x, W, y, 32, 0.9, 0.4, 0.15),
  },
  {
    name: 'combined (1.5, 0.2, 0.1)',
    make: (W, C, D) =>
      L.combinedMargin({ numClasses: C, embeddingDim: D, weights: W, s: 16, m1: 1.5, m2: 0.2, m3: 0.1 }),
    ref: (x, W, y) => R.combinedRef(x, W, y, 16, 1.5, 0.2, 0.1),
  },
  {
    name: 'curricularFace t=0.3 (eval)',
    make: (W, C, D) => L.curricularFace({ numClasses: C, embeddingDim: D, weights: W, s: 32, t: 0.3 }),
    ref: (x, W, y) => R.curricularRef(x, W, y, 32, 0.5, 0.3, false).loss,
  },
  {
    name: 'subCenterArcFace K=3',
    K: 3,
    make: (W, C, D) => L.subCenterArcFace({ numClasses: C, embeddingDim: D, weights: W, s: 32, m: 0.5 }),
    ref: (x, W, y) => R.subCenterRef(x, W, y, 3, 32, 0.5),
  },
  {
    name: 'adaFace (eval, μ=1.5 σ=0.5)',
    scale: 1.5,
    make: (W, C, D) =>
      L.adaFace({ numClasses: C, embeddingDim: D, weights: W, s: 32, initialMean: 1.5, initialStd: 0.5 }),
    ref: (x, W, y) =>
      R.adaFaceRef(x, W, y, { s: 32, m: 0.4, h: 0.333, alpha: 0.01, mean: 1.5, std: 0.5, training: false }).loss,
  },
];

export const shapes: Array<[number, number, number]> = [
  [4, 3, 5],
  [8, 5, 7],
  [16, 8, 10],
];

/** AdaFace detaches the norms, so its finite differences hold them fixed. */
export function refForGradient(c: HeadCase, x0: Mat): (x: Mat, W: Mat, y: number[]) => number {
  if (!c.name.startsWith('adaFace')) return c.ref;
  const fixedNorms = x0.map((r) => Math.min(100, Math.max(0.001, R.norm(r))));
  return (x, W, y) =>
    R.adaFaceRef(x, W, y, { s: 32, m: 0.4, h: 0.333, alpha: 0.01, mean: 1.5, std: 0.5, training: false, fixedNorms })
      .loss;
}

export interface PairCase {
  name: string;
  make: () => L.EmbeddingLoss;
  ref: (x: Mat, y: number[]) => number;
  scale?: number;
}

export const pairCases: PairCase[] = [
  {
    name: 'contrastive euclidean m=1',
    make: () => L.contrastiveLoss(),
    ref: (x, y) => R.contrastiveRef(x, y, 1, 'euclidean', false),
    scale: 0.6,
  },
  {
    name: 'contrastive euclidean normalized m=1.2',
    make: () => L.contrastiveLoss({ margin: 1.2, normalize: true }),
    ref: (x, y) => R.contrastiveRef(x, y, 1.2, 'euclidean', true),
  },
  {
    name: 'contrastive cosine m=0.5',
    make: () => L.contrastiveLoss({ distance: 'cosine' }),
    ref: (x, y) => R.contrastiveRef(x, y, 0.5, 'cosine', true),
  },
  {
    name: 'triplet batch-all',
    make: () => L.tripletLoss({ miner: 'batchAll' }),
    ref: (x, y) => R.tripletRef(x, y, 0.2, 'batchAll', 'mean-active').loss,
  },
  {
    name: 'triplet batch-all mean',
    make: () => L.tripletLoss({ miner: 'batchAll', reduction: 'mean', margin: 0.5 }),
    ref: (x, y) => R.tripletRef(x, y, 0.5, 'batchAll', 'mean').loss,
  },
  {
    name: 'triplet batch-hard',
    make: () => L.tripletLoss({ miner: 'batchHard' }),
    ref: (x, y) => R.tripletRef(x, y, 0.2, 'batchHard', 'mean-active').loss,
  },
  {
    name: 'triplet semi-hard α=0.5',
    make: () => L.tripletLoss({ miner: 'semiHard', margin: 0.5 }),
    ref: (x, y) => R.tripletRef(x, y, 0.5, 'semiHard', 'mean-active').loss,
  },
  {
    name: 'center loss (eval)',
    make: () => L.centerLoss({ numClasses: 4, embeddingDim: 0 + CENTER_D, centers: randMat(4, CENTER_D, 77) }),
    ref: (x, y) => R.centerRef(x, y, randMat(4, CENTER_D, 77), 0.5).loss,
  },
];
export const CENTER_D = 6;

/**
 * Shipped losses whose float64 reference test is written out in test/losses.test.ts rather than
 * as a case above, and the test that holds it. With the cases, every shipped loss must be covered:
 * losses.test.ts fails for a loss added to the registry without a reference.
 */
export const REFERENCED_ELSEWHERE: Record<string, string> = {
  softmax: 'softmaxLoss (with bias): value and gradients match the float64 reference',
  'softmax+center': 'center loss moves the centers by the Wen et al. rule in training mode',
};
