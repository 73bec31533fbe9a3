/**
 * The recipe ablation: ArcFace (and softmax beside it) trained on the glyph benchmark's split
 * with one ingredient of the face-recognition recipe changed at a time, to show which of them
 * decides whether ArcFace trains at all and where it ends up among the losses.
 *
 * Every variant is a BenchmarkConfig run by `runOpenSetBenchmark`, so its runs are cached in the
 * same folder under their own configuration key and an interrupted ablation resumes.
 */
import {
  BENCHMARK_RECIPES,
  BenchmarkConfig,
  benchmarkSplit,
  benchmarkStepsPerEpoch,
  fullGlyphDir,
  runOpenSetBenchmark,
  BenchmarkRun,
} from '../benchmark';
import { GlyphDataset, loadHangulGlyphs } from '../data/glyphs';
import type { LossName } from '../losses';

export interface AblationVariant {
  id: string;
  /** What changes, in words, for the report. */
  label: string;
  /** Fields of the benchmark configuration this variant sets (on top of the common budget). */
  config: Partial<BenchmarkConfig>;
  /** Losses this variant applies to (an s or margin change means nothing for softmax). */
  losses: LossName[];
}

const ADAM = BENCHMARK_RECIPES.adam;
const FACE = BENCHMARK_RECIPES.face;
const BOTH: LossName[] = ['arcface', 'softmax'];

/**
 * The variants, in reading order: from this project's earlier recipe to the face-recognition
 * recipe one ingredient at a time, then one ingredient taken out of (or added to) the full recipe.
 * `warmupSteps` of the margin warm-up is set from the run's length (a third of its steps).
 */
export const ABLATION_VARIANTS: readonly AblationVariant[] = [
  { id: 'adam', label: 'earlier recipe: no BN, Adam 1e-3 constant', config: { ...ADAM }, losses: BOTH },
  { id: 'adam+neck', label: '+ BN neck (BN–dense–BN), Adam', config: { ...ADAM, neck: true }, losses: BOTH },
  {
    id: 'adam+neck+bn',
    label: '+ BN after every convolution, Adam',
    config: { ...ADAM, neck: true, batchNorm: true },
    losses: BOTH,
  },
  {
    id: 'face',
    label:
      "Adam → SGD 0.1 Nesterov + weight decay 5e-4, warm-up + cosine, and the hidden layer's BN before its ReLU (the face recipe)",
    config: { ...FACE },
    losses: BOTH,
  },
  {
    id: 'face-relu-bn',
    label:
      "face recipe with the earlier neck layout: the reference net's hidden dense 128 + ReLU, then BN–dense–BN (a BN after a ReLU)",
    // Left out, the layout is 'relu-bn': the key of the runs made before the layout existed.
    config: { ...FACE, neckLayout: undefined },
    losses: BOTH,
  },
  {
    id: 'face-bn2d',
    label: "face recipe with insightface's output layer: BN over the pooled maps, flatten, dense, BN (no hidden dense)",
    config: { ...FACE, neckLayout: 'bn2d' },
    losses: BOTH,
  },
  { id: 'face-wd0', label: 'face recipe without weight decay', config: { ...FACE, weightDecay: 0 }, losses: BOTH },
  {
    id: 'face-s30',
    label: 'face recipe, ArcFace s = 64 → 30',
    config: { ...FACE, lossOptions: { arcface: { s: 30 } } },
    losses: ['arcface'],
  },
  {
    id: 'face+mwarm',
    label: 'face recipe + margin warm-up (m from 0 over the first third of the steps)',
    config: { ...FACE },
    losses: ['arcface'],
  },
  {
    id: 'sgd-nobn',
    label: 'SGD + weight decay, warm-up + cosine, but no BN anywhere',
    config: { ...FACE, batchNorm: undefined, neck: undefined, neckLayout: undefined },
    losses: BOTH,
  },
  {
    id: 'sgd-nobn+mwarm',
    label: 'SGD + weight decay without BN, + margin warm-up',
    config: { ...FACE, batchNorm: undefined, neck: undefined, neckLayout: undefined },
    losses: ['arcface'],
  },
];

/**
 * The budget every variant shares in `npm run benchmark -- --ablation` without budget flags
 * (docs/ablation.md and benchmark/ablation were written with it): the shipped glyph subset, the
 * `reference` backbone, 128-D, batch 128, 3 epochs, seed 1. The learning rate is the Adam rows';
 * the face-recipe rows set their own.
 */
export const ABLATION_BUDGET: Readonly<Omit<BenchmarkConfig, 'losses'>> = Object.freeze({
  seeds: [1],
  seenFraction: 0.8,
  backbone: 'reference',
  dim: 128,
  epochs: 3,
  batch: 128,
  lr: ADAM.lr!,
});

export interface AblationRow {
  variant: string;
  label: string;
  loss: LossName;
  runs: number;
  tar1e4: number | null;
  rank1: number;
  finalTrainLoss: number;
}

export interface AblationOptions {
  /** The budget every variant shares (losses and recipe fields are set per variant). */
  base: Omit<BenchmarkConfig, 'losses'>;
  /** Folder for the runs (one JSON per run, as the benchmark's). */
  dir: string;
  /** Only these variants (default all, in order). */
  variants?: string[];
  data?: GlyphDataset;
  progress?: 'auto' | 'tty' | 'lines' | 'notebook' | 'none';
  log?: (line: string) => void;
  /** Only read the finished runs in `dir`; train none (rows of variants without runs have runs = 0). */
  finishedOnly?: boolean;
}

/** Runs (or resumes) the ablation; returns one row per (variant, loss), means over seeds. */
export async function runAblation(opts: AblationOptions): Promise<{ rows: AblationRow[]; results: BenchmarkRun[] }> {
  const ids = opts.variants ?? ABLATION_VARIANTS.map((v) => v.id);
  for (const id of ids)
    if (!ABLATION_VARIANTS.some((v) => v.id === id))
      throw new Error(
        `ablation: unknown variant ${JSON.stringify(id)}; expected some of ${ABLATION_VARIANTS.map((v) => v.id).join(', ')}`,
      );
  const ds = opts.data ?? loadHangulGlyphs(opts.base.data === 'full' ? { dir: fullGlyphDir() } : {});
  const rows: AblationRow[] = [];
  const all: BenchmarkRun[] = [];
  for (const v of ABLATION_VARIANTS.filter((x) => ids.includes(x.id))) {
    // The base's recipe fields are replaced by the variant's, not merged with them.
    const config: BenchmarkConfig = {
      losses: v.losses,
      seeds: opts.base.seeds,
      identities: opts.base.identities,
      seenFraction: opts.base.seenFraction,
      backbone: opts.base.backbone,
      dim: opts.base.dim,
      epochs: opts.base.epochs,
      maxStepsPerEpoch: opts.base.maxStepsPerEpoch,
      batch: opts.base.batch,
      data: opts.base.data,
      lr: v.config.lr ?? opts.base.lr,
      ...v.config,
    };
    if (v.id.endsWith('+mwarm')) {
      const n = benchmarkSplit(ds, config).train.y.length;
      const steps = Math.max(1, Math.round((benchmarkStepsPerEpoch(config, n) * config.epochs) / 3));
      config.lossOptions = { ...(config.lossOptions ?? {}), arcface: { marginWarmup: { steps } } };
    }
    (opts.log ?? console.log)(`ablation: ${v.id} — ${v.label}`);
    const results = await runOpenSetBenchmark({
      config,
      dir: opts.dir,
      data: ds,
      progress: opts.progress,
      log: opts.log,
      ...(opts.finishedOnly ? { finishedOnly: true } : {}),
    });
    all.push(...results);
    for (const loss of v.losses) {
      const rs = results.filter((r) => r.loss === loss);
      const mean = (f: (r: BenchmarkRun) => number | null): number | null => {
        const xs = rs.map(f).filter((x): x is number => x !== null);
        return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
      };
      rows.push({
        variant: v.id,
        label: v.label,
        loss,
        runs: rs.length,
        tar1e4: mean((r) => r.tar1e4),
        rank1: mean((r) => r.rank1) ?? NaN,
        finalTrainLoss: mean((r) => r.finalTrainLoss) ?? NaN,
      });
    }
  }
  return { rows, results: all };
}

/** The ablation as a Markdown table: one row per (variant, loss). */
export function ablationMarkdown(rows: AblationRow[]): string {
  const pct = (v: number | null) => (v === null || Number.isNaN(v) ? 'n/a' : (100 * v).toFixed(1));
  return [
    '| variant | what changes | loss | seeds | TAR@1e-4 (%) | rank-1 (%) | final training loss |',
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.variant} | ${r.label} | ${r.loss} | ${r.runs} | ${pct(r.tar1e4)} | ${pct(r.rank1)} | ${r.finalTrainLoss.toFixed(3)} |`,
    ),
  ].join('\n');
}
