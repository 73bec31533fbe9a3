/** The benchmark's configuration: the losses, the recipes, and the key that names a configuration's runs. */
import * as crypto from 'crypto';
import type { LossName } from '../losses';
import type { BackboneName, NeckLayout } from '../models';

export const CORE_LOSSES: LossName[] = ['softmax', 'normface', 'sphereface', 'cosface', 'arcface', 'curricularface'];
export const EXTRA_LOSSES: LossName[] = [
  'combined',
  'subcenter-arcface',
  'adaface',
  'contrastive',
  'triplet',
  'softmax+center',
];

/**
 * A benchmark configuration. The fields after `lr` describe the training recipe; left out, each
 * takes the legacy value (Adam at a constant lr, no BatchNorm, no weight decay), which keeps the
 * configuration keys, and so the stored runs, of benchmarks made before they existed.
 */
export interface BenchmarkConfig {
  losses: LossName[];
  seeds: number[];
  /** Use only the first `identities` classes of the glyph set (all when undefined). */
  identities?: number;
  seenFraction: number;
  backbone: BackboneName;
  dim: number;
  epochs: number;
  /** Cap on steps per epoch (quick runs). */
  maxStepsPerEpoch?: number;
  batch: number;
  lr: number;
  /** Default 'adam'. */
  optimizer?: 'adam' | 'sgd';
  /** SGD momentum (SGD only). */
  momentum?: number;
  nesterov?: boolean;
  /** Weight decay: coupled for SGD, decoupled (AdamW) for Adam (default 0). */
  weightDecay?: number;
  /** Learning-rate schedule after the warm-up (default 'constant'). */
  schedule?: 'constant' | 'cosine';
  /** Linear warm-up over this fraction of all steps (default 0). */
  warmupFraction?: number;
  /** BatchNorm after every convolution of the backbone. */
  batchNorm?: boolean;
  /** The BN → dense → BN embedding neck. */
  neck?: boolean;
  /**
   * The reference backbone's layers from its conv blocks to the embedding, with the neck (see
   * NeckLayout in src/models). Left out: 'relu-bn', the layout of the runs made before it existed.
   */
  neckLayout?: NeckLayout;
  /** 'full' for the full glyph set (data/hangul-glyphs-full); undefined for the shipped one. */
  data?: 'full';
  /** Options for particular losses on top of their defaults (ablations: s, margin warm-up). */
  lossOptions?: Record<string, Record<string, unknown>>;
}

export type BenchmarkRecipe = 'face' | 'adam';

/**
 * The budget of `npm run benchmark` where its flags are not given (the CLI's defaults): the
 * reference backbone, 128-D embeddings, batch 128, 80 % of the syllables seen.
 */
export const BENCHMARK_BUDGET_DEFAULTS = {
  backbone: 'reference',
  dim: 128,
  batch: 128,
  seenFraction: 0.8,
} as const satisfies Partial<BenchmarkConfig>;

/**
 * The two training recipes, as the fields of a BenchmarkConfig they set.
 *  - 'face': what face-recognition codebases do (insightface's arcface_torch, the ArcFace paper):
 *    BN after every convolution and the BN neck (on the reference net, its hidden dense layer with
 *    BN before the ReLU, 'bn-relu'), SGD lr 0.1 with Nesterov momentum 0.9 and weight
 *    decay 5e-4, a linear warm-up over the first 10 % of the steps, then a cosine decay to 0.
 *    Where we differ: insightface warms up for a few epochs of a 20–25-epoch run and trains far
 *    larger networks; here the run is a few epochs of a small CNN, so the warm-up is 10 % of it.
 *  - 'adam': this project's earlier recipe (no normalization, Adam at a constant 1e-3, no weight
 *    decay), kept for the ablation.
 */
export const BENCHMARK_RECIPES: Record<BenchmarkRecipe, Partial<BenchmarkConfig>> = {
  face: {
    lr: 0.1,
    optimizer: 'sgd',
    momentum: 0.9,
    nesterov: true,
    weightDecay: 5e-4,
    schedule: 'cosine',
    warmupFraction: 0.1,
    batchNorm: true,
    neck: true,
    neckLayout: 'bn-relu',
  },
  adam: { lr: 1e-3 },
};

/**
 * A recipe's fields for a backbone: the neck layout only where it applies (the reference net), so
 * that other backbones' configuration keys do not carry it.
 */
export function recipeFields(recipe: BenchmarkRecipe, backbone: BackboneName): Partial<BenchmarkConfig> {
  const { neckLayout, ...rest } = BENCHMARK_RECIPES[recipe];
  return backbone === 'reference' && neckLayout ? { ...rest, neckLayout } : rest;
}

/** Each recipe in a few words, for `--help` (the compiler asks for one per recipe). */
export const RECIPE_SUMMARY: Record<BenchmarkRecipe, string> = {
  face: 'BN backbone and neck, SGD 0.1 Nesterov, weight decay 5e-4, 10 % warm-up + cosine',
  adam: 'the earlier one: no BN, Adam 1e-3 constant',
};

/** One line describing a configuration's recipe, for reports. */
export function recipeLine(c: BenchmarkConfig): string {
  const opt =
    (c.optimizer ?? 'adam') === 'sgd'
      ? `SGD lr ${c.lr}${c.momentum ? `, ${c.nesterov ? 'Nesterov ' : ''}momentum ${c.momentum}` : ''}`
      : `Adam lr ${c.lr}`;
  const wd = c.weightDecay
    ? `, weight decay ${c.weightDecay}${(c.optimizer ?? 'adam') === 'adam' ? ' (AdamW)' : ''}`
    : ', no weight decay';
  const sched = `${c.warmupFraction ? `${Math.round(100 * c.warmupFraction)} % linear warm-up, then ` : ''}${c.schedule ?? 'constant'} lr`;
  const neck = !c.neck
    ? ''
    : c.backbone !== 'reference'
      ? 'BN–dense–BN neck'
      : (c.neckLayout ?? 'relu-bn') === 'bn-relu'
        ? 'hidden dense–BN–ReLU, then dense–BN (neck layout bn-relu)'
        : (c.neckLayout ?? 'relu-bn') === 'bn2d'
          ? 'BN over the pooled maps, then dense–BN (neck layout bn2d)'
          : 'hidden dense–ReLU, then BN–dense–BN (neck layout relu-bn)';
  const norm = [c.batchNorm ? 'BN after every convolution' : '', neck].filter(Boolean);
  return `${opt}${wd}; ${sched}; ${norm.length ? norm.join(' and ') : 'no normalization layers'}`;
}

/** A short stable hash of the configuration: result files are only reused for the same one. */
export function configKey(c: BenchmarkConfig): string {
  const { losses: _l, seeds: _s, ...rest } = c;
  void _l;
  void _s;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 12);
}

/** Steps per epoch of a classifier run of the configuration on n training images (the trainer's count). */
export function benchmarkStepsPerEpoch(c: Pick<BenchmarkConfig, 'batch' | 'maxStepsPerEpoch'>, n: number): number {
  return Math.min(Math.ceil(n / c.batch), c.maxStepsPerEpoch ?? Infinity);
}

/**
 * The configuration of the benchmark's headline run as `npm run benchmark` trains it on the full
 * glyph set with the face recipe and the default budget (one loss, one seed): what `npm run bench`
 * times as its recipe workload.
 */
export function headlineConfig(loss: LossName, seed: number, epochs: number): BenchmarkConfig {
  return {
    losses: [loss],
    seeds: [seed],
    ...BENCHMARK_BUDGET_DEFAULTS,
    epochs,
    ...recipeFields('face', BENCHMARK_BUDGET_DEFAULTS.backbone),
    data: 'full',
  } as BenchmarkConfig;
}
