/**
 * The open-set benchmark: every loss trained the same way on the seen syllables of the Hangul
 * glyph set, and evaluated on syllables it never saw (in font faces it never saw either).
 *
 * Per (loss, seed) run: the same backbone, embedding dimension, optimizer and budget; each loss
 * at its paper defaults (the library's defaults). The identity split is fixed (seed 0: 80 % of
 * the syllables seen), the faces are split once (a quarter held out), and the seed changes the
 * initial weights and the batch order. Evaluated on the unseen syllables in the held-out faces:
 *
 *   - ROC over ALL pairs, exactly (no sampling): EER, TAR @ FAR = 1e-3 and 1e-4;
 *   - LFW-style 10-fold accuracy on 10 × 300 genuine + 300 impostor pairs;
 *   - rank-1 identification against a gallery of one image per syllable;
 *   - DIR @ FAR = 1e-2: half of the unseen syllables enrolled (one image each), probes of the
 *     other half must be rejected.
 *
 * Each run writes its result file when it finishes; a rerun with the same configuration skips
 * the runs that are done, so a benchmark can span several sittings.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { backendReport } from '../backend';
import type { LayersModel } from '../tf';
import { createLoss, EmbeddingLoss, PAIR_LOSSES, LossName } from '../losses';
import { buildBackbone, BackboneName, BackboneSpec } from '../models';
import { train, TrainOptions } from '../train';
import { embedImagesAsync } from './report';
import {
  auc,
  eer,
  kFoldAccuracy,
  normalizeRows,
  openSetIdentification,
  pairScores,
  rankKAccuracy,
  roc,
  tarAtFar,
} from './metrics';
import { verificationPairs } from '../data/pairs';
import { loadHangulGlyphs, seededClassSplit, splitByFace, GlyphDataset } from '../data/glyphs';
import { dataDir } from '../data/dataset';
import { selectClasses } from '../data/dataset';
import { Rng } from '../util/random';
import { writeFileAtomic } from '../util/fs';
import { requireDanfo } from '../util/danfo';
import type { DataFrameLike } from '../util/dataframe';
import { Figure } from '../plot/show';
import { axis, colour, titled } from '../plot/style';

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
  /** 'full' for the full glyph set (data/hangul-glyphs-full); undefined for the shipped one. */
  data?: 'full';
  /** Options for particular losses on top of their defaults (ablations: s, margin warm-up). */
  lossOptions?: Record<string, Record<string, unknown>>;
}

export type BenchmarkRecipe = 'face' | 'adam';

/**
 * The two training recipes, as the fields of a BenchmarkConfig they set.
 *  - 'face': what face-recognition codebases do (insightface's arcface_torch, the ArcFace paper):
 *    BN after every convolution and the BN neck, SGD lr 0.1 with Nesterov momentum 0.9 and weight
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
  },
  adam: { lr: 1e-3 },
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
  const norm = [c.batchNorm ? 'BN after every convolution' : '', c.neck ? 'BN–dense–BN neck' : ''].filter(Boolean);
  return `${opt}${wd}; ${sched}; ${norm.length ? norm.join(' and ') : 'no normalization layers'}`;
}

export interface RunResult {
  loss: LossName;
  seed: number;
  tenFold: number;
  tenFoldStd: number;
  /** Genuine (and impostor) pairs per fold of the 10-fold accuracy. */
  pairsPerFold: number;
  eer: number;
  auc: number;
  tar1e3: number | null;
  tar1e4: number | null;
  rank1: number;
  dir1e2: number | null;
  genuinePairs: number;
  impostorPairs: number;
  trainSeconds: number;
  finalTrainLoss: number;
  /** ROC on a log-FAR grid (for overlaid curves). */
  roc: { far: number[]; tar: number[] };
}

export interface BenchmarkOptions {
  config: BenchmarkConfig;
  /** Folder for the per-run results (one JSON file per run). */
  dir: string;
  /** Progress of training inside a run (default 'auto'). */
  progress?: 'auto' | 'tty' | 'lines' | 'notebook' | 'none';
  log?: (line: string) => void;
  /** The data set (default: the shipped glyph set). */
  data?: GlyphDataset;
  /** Only collect the finished runs; train none of the missing ones (reports of a run in progress). */
  finishedOnly?: boolean;
}

/** A short stable hash of the configuration: result files are only reused for the same one. */
export function configKey(c: BenchmarkConfig): string {
  const { losses: _l, seeds: _s, ...rest } = c;
  void _l;
  void _s;
  return crypto.createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 12);
}

function bar(done: number, total: number, width = 24): string {
  const k = Math.round((done / Math.max(1, total)) * width);
  return `[${'='.repeat(Math.max(0, k - 1))}${k > 0 ? (k === width ? '=' : '>') : ''}${' '.repeat(width - k)}]`;
}

function hms(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** Where `npm run data:glyphs -- --full` writes the full glyph set. */
export function fullGlyphDir(): string {
  return path.join(dataDir(), 'hangul-glyphs-full');
}

/** Whether the full glyph set has been built. */
export function fullGlyphSetBuilt(): boolean {
  return fs.existsSync(path.join(fullGlyphDir(), 'meta.json'));
}

/** Identities and faces of the benchmark's split (the same for every loss and seed). */
export function benchmarkSplit(ds: GlyphDataset, c: BenchmarkConfig) {
  const numClasses = Math.min(c.identities ?? ds.meta.syllables.length, ds.meta.syllables.length);
  const { seen, unseen } = seededClassSplit(numClasses, { seenFraction: c.seenFraction, seed: 0 });
  const { train: trainFaces, test: testFaces } = splitByFace(ds, { seed: 0 });
  return { seen, unseen, train: selectClasses(trainFaces, seen), test: selectClasses(testFaces, unseen) };
}

/** Evaluates embeddings of unseen identities (see the module comment). */
export function openSetMetrics(
  emb: Float32Array,
  dim: number,
  labels: Int32Array,
  seed = 0,
): Omit<RunResult, 'loss' | 'seed' | 'trainSeconds' | 'finalTrainLoss'> {
  const u = normalizeRows(emb, dim);
  const n = labels.length;
  // All pairs, exactly.
  const m = (n * (n - 1)) / 2;
  const scores = new Float64Array(m);
  const same = new Uint8Array(m);
  let k = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++, k++) {
      let s = 0;
      for (let q = 0; q < dim; q++) s += u[i * dim + q] * u[j * dim + q];
      scores[k] = s;
      same[k] = labels[i] === labels[j] ? 1 : 0;
    }
  }
  const curve = roc(scores, same);
  const tars = tarAtFar(curve, [1e-3, 1e-4]);
  const grid = Array.from({ length: 41 }, (_, i) => Math.pow(10, -5 + i * 0.125));
  const rocGrid = tarAtFar(curve, grid);
  // 10-fold accuracy, LFW style: 300 + 300 pairs a fold, or fewer when the set is small (at most
  // half of the genuine pairs are drawn, so that sampling them without repeats stays quick).
  const perFold = Math.max(1, Math.min(300, Math.floor(curve.positives / 20)));
  const pairs = verificationPairs(labels, { folds: 10, perFold, seed });
  const fold = kFoldAccuracy(pairScores(u, dim, pairs.a, pairs.b), pairs.same, pairs.fold);
  // Identification: one gallery image per identity, chosen by seed.
  const rng = new Rng(seed + 11);
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  const galleryIdx: number[] = [];
  const probeIdx: number[] = [];
  for (const c of classes) {
    const idx: number[] = [];
    for (let i = 0; i < n; i++) if (labels[i] === c) idx.push(i);
    const g = idx[rng.int(idx.length)];
    galleryIdx.push(g);
    for (const i of idx) if (i !== g) probeIdx.push(i);
  }
  const rows = (idx: number[]) => {
    const out = new Float64Array(idx.length * dim);
    idx.forEach((i, r) => out.set(u.subarray(i * dim, (i + 1) * dim), r * dim));
    return out;
  };
  const probes = rows(probeIdx);
  const pl = probeIdx.map((i) => labels[i]);
  const rank1 = rankKAccuracy(
    rows(galleryIdx),
    galleryIdx.map((i) => labels[i]),
    probes,
    pl,
    dim,
    [1],
  )[1];
  // Open set: half of the identities enrolled.
  const enrolled = new Set(
    new Rng(seed + 13).shuffle(classes.slice()).slice(0, Math.floor(classes.length / 2)) as number[],
  );
  const kg = galleryIdx.filter((i) => enrolled.has(labels[i]));
  const dir = openSetIdentification(
    rows(kg),
    kg.map((i) => labels[i]),
    probes,
    pl,
    dim,
    [1e-2],
  )[0];
  return {
    tenFold: fold.mean,
    tenFoldStd: fold.std,
    pairsPerFold: perFold,
    eer: eer(curve).eer,
    auc: auc(curve),
    tar1e3: tars[0].supported ? tars[0].tar : null,
    tar1e4: tars[1].supported ? tars[1].tar : null,
    rank1,
    dir1e2: dir.supported ? dir.dir : null,
    genuinePairs: curve.positives,
    impostorPairs: curve.negatives,
    roc: {
      far: grid.filter((_, i) => rocGrid[i].supported),
      tar: rocGrid.filter((r) => r.supported).map((r) => r.tar as number),
    },
  };
}

/** Steps per epoch of a classifier run of the configuration on n training images (the trainer's count). */
export function benchmarkStepsPerEpoch(c: Pick<BenchmarkConfig, 'batch' | 'maxStepsPerEpoch'>, n: number): number {
  return Math.min(Math.ceil(n / c.batch), c.maxStepsPerEpoch ?? Infinity);
}

/**
 * The model, loss and training options of one (loss, seed) run: the one place that turns a
 * configuration into a run (the benchmark, the ablation and the PyTorch twin's export use it).
 */
export function benchmarkRun(
  c: BenchmarkConfig,
  split: ReturnType<typeof benchmarkSplit>,
  r: { loss: LossName; seed: number },
): { model: LayersModel; loss: EmbeddingLoss; trainOptions: TrainOptions } {
  const backbone: BackboneSpec = {
    name: c.backbone,
    inputShape: split.train.shape,
    embeddingDim: c.dim,
    seed: r.seed,
    ...(c.batchNorm ? { batchNorm: true } : {}),
    ...(c.neck ? { neck: true } : {}),
  };
  const model = buildBackbone(backbone);
  const loss = createLoss(r.loss, {
    numClasses: split.seen.length,
    embeddingDim: c.dim,
    seed: r.seed,
    ...(c.lossOptions?.[r.loss] ?? {}),
  });
  const pair = PAIR_LOSSES.includes(r.loss);
  const n = split.train.y.length;
  const stepsPerEpoch = benchmarkStepsPerEpoch(c, n);
  const optimizer = c.optimizer ?? 'adam';
  return {
    model,
    loss,
    trainOptions: {
      model,
      loss,
      backbone,
      data: { x: split.train.x, y: pair ? split.train.y : split.train.localY, shape: split.train.shape },
      epochs: c.epochs,
      batchSize: c.batch,
      optimizer,
      lr: c.lr,
      ...(optimizer === 'sgd' ? { momentum: c.momentum ?? 0, nesterov: c.nesterov ?? false } : {}),
      weightDecay: c.weightDecay ?? 0,
      schedule: {
        type: c.schedule ?? 'constant',
        warmupSteps: Math.round((c.warmupFraction ?? 0) * stepsPerEpoch * c.epochs),
      },
      seed: r.seed,
      maxStepsPerEpoch: c.maxStepsPerEpoch,
    },
  };
}

/**
 * Reads one stored run result, refusing by name a file that is not one (a folder, bad JSON, `{}`,
 * a run of another loss or seed), so that nothing is reported, or rewritten, from it.
 */
export function readRunResult(file: string, expect?: { loss: string; seed: number }): RunResult {
  if (fs.statSync(file).isDirectory())
    throw new Error(`benchmark run file ${file}: is a folder, expected a run's JSON file`);
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(
      `benchmark run file ${file}: not readable JSON (${(e as Error).message}); delete it to train that run again`,
    );
  }
  const bad = (what: string, v: unknown): never => {
    throw new Error(
      `benchmark run file ${file}: ${what}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}; delete it to train that run again`,
    );
  };
  if (r === null || typeof r !== 'object' || Array.isArray(r)) bad('expected a JSON object', r);
  if (typeof r.loss !== 'string') bad('loss must be a loss name', r.loss);
  if (!Number.isInteger(r.seed)) bad('seed must be an integer', r.seed);
  if (expect && (r.loss !== expect.loss || r.seed !== expect.seed))
    bad(`expected the run of ${expect.loss}, seed ${expect.seed} (its file name)`, { loss: r.loss, seed: r.seed });
  for (const k of [
    'tenFold',
    'tenFoldStd',
    'pairsPerFold',
    'eer',
    'auc',
    'rank1',
    'genuinePairs',
    'impostorPairs',
    'trainSeconds',
    'finalTrainLoss',
  ])
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) bad(`${k} must be a finite number`, r[k]);
  for (const k of ['tar1e3', 'tar1e4', 'dir1e2'])
    if (r[k] !== null && (typeof r[k] !== 'number' || !Number.isFinite(r[k])))
      bad(`${k} must be a number or null`, r[k]);
  const roc = r.roc as { far?: unknown; tar?: unknown } | undefined;
  if (!roc || !Array.isArray(roc.far) || !Array.isArray(roc.tar) || roc.far.length !== roc.tar.length)
    bad('roc must hold far and tar lists of one length', roc);
  return r as unknown as RunResult;
}

/** Runs (or resumes) the benchmark; returns every result, finished now or earlier. */
export async function runOpenSetBenchmark(opts: BenchmarkOptions): Promise<RunResult[]> {
  const c = opts.config;
  const log = opts.log ?? ((l: string) => console.log(l));
  const ds = opts.data ?? loadHangulGlyphs(c.data === 'full' ? { dir: fullGlyphDir() } : {});
  const split = benchmarkSplit(ds, c);
  const key = configKey(c);
  fs.mkdirSync(opts.dir, { recursive: true });
  const runs = c.losses.flatMap((loss) => c.seeds.map((seed) => ({ loss, seed })));
  const fileOf = (r: { loss: string; seed: number }) => path.join(opts.dir, `${r.loss}-seed${r.seed}-${key}.json`);
  const results: RunResult[] = [];
  const todo = runs.filter((r) => {
    const f = fileOf(r);
    if (!fs.existsSync(f)) return true;
    results.push(readRunResult(f, r));
    return false;
  });
  log(
    `benchmark: ${runs.length} runs (${c.losses.length} losses × ${c.seeds.length} seeds), ${runs.length - todo.length} already done in ${opts.dir}; ` +
      `training on ${split.seen.length} seen syllables (${split.train.y.length} images), testing on ${split.unseen.length} unseen syllables (${split.test.y.length} images in held-out faces)`,
  );
  if (opts.finishedOnly) {
    if (todo.length)
      log(
        `benchmark: reporting the ${results.length} finished runs only; not trained: ${todo.map((r) => `${r.loss} seed ${r.seed}`).join(', ')}`,
      );
    return results;
  }
  const t0 = Date.now();
  let done = 0;
  for (const r of todo) {
    const started = Date.now();
    const { model, loss, trainOptions } = benchmarkRun(c, split, r);
    const history = await train({ ...trainOptions, progress: opts.progress ?? 'auto' });
    const trainSeconds = (Date.now() - started) / 1000;
    const { emb, dim } = await embedImagesAsync(model, split.test.x, split.test.shape);
    const metrics = openSetMetrics(emb, dim, split.test.y, 0);
    const result: RunResult = {
      loss: r.loss,
      seed: r.seed,
      ...metrics,
      trainSeconds,
      finalTrainLoss: history.history[history.history.length - 1].loss,
    };
    writeFileAtomic(fileOf(r), JSON.stringify(result));
    results.push(result);
    model.dispose();
    loss.dispose();
    done++;
    const per = (Date.now() - t0) / 1000 / done;
    log(
      `benchmark ${bar(runs.length - todo.length + done, runs.length)} ${runs.length - todo.length + done}/${runs.length} runs; ` +
        `${r.loss} seed ${r.seed}: TAR@1e-4 ${fmtPct(result.tar1e4)}, rank-1 ${fmtPct(result.rank1)} (${trainSeconds.toFixed(0)} s); ETA ${hms(per * (todo.length - done))}`,
    );
  }
  return results;
}

function fmtPct(v: number | null): string {
  return v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`;
}

export interface SummaryRow {
  loss: string;
  runs: number;
  [metric: string]: string | number;
}

const METRICS: Array<[keyof RunResult, string]> = [
  ['tenFold', '10-fold acc'],
  ['eer', 'EER'],
  ['tar1e3', 'TAR@1e-3'],
  ['tar1e4', 'TAR@1e-4'],
  ['rank1', 'rank-1'],
  ['dir1e2', 'DIR@1e-2'],
];

/** Mean and (sample) standard deviation over seeds of each metric, per loss, in `losses` order. */
export function summarize(
  results: RunResult[],
  losses: string[],
): Array<{ loss: string; runs: number; mean: Record<string, number | null>; std: Record<string, number | null> }> {
  return losses
    .map((loss) => {
      const rs = results.filter((r) => r.loss === loss);
      const mean: Record<string, number | null> = {};
      const std: Record<string, number | null> = {};
      for (const [k] of METRICS) {
        const v = rs.map((r) => r[k] as number | null).filter((x): x is number => x !== null);
        if (v.length === 0) {
          mean[k] = null;
          std[k] = null;
          continue;
        }
        const mu = v.reduce((a, b) => a + b, 0) / v.length;
        mean[k] = mu;
        std[k] = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1)) : 0;
      }
      return { loss, runs: rs.length, mean, std };
    })
    .filter((r) => r.runs > 0);
}

/** A Markdown table of the summary (percentages, mean ± std over seeds). */
export function summaryMarkdown(sum: ReturnType<typeof summarize>): string {
  const head = `| loss | runs | ${METRICS.map(([, h]) => h).join(' | ')} |`;
  const sep = `|---|---|${METRICS.map(() => '---').join('|')}|`;
  const cell = (m: number | null, s: number | null) =>
    m === null ? 'n/a' : `${(100 * m).toFixed(2)} ± ${(100 * (s ?? 0)).toFixed(2)}`;
  return [
    head,
    sep,
    ...sum.map((r) => `| ${r.loss} | ${r.runs} | ${METRICS.map(([k]) => cell(r.mean[k], r.std[k])).join(' | ')} |`),
  ].join('\n');
}

/** One CSV row per run. */
export function resultsCsv(results: RunResult[]): string {
  const cols: Array<keyof RunResult> = [
    'loss',
    'seed',
    'tenFold',
    'tenFoldStd',
    'pairsPerFold',
    'eer',
    'auc',
    'tar1e3',
    'tar1e4',
    'rank1',
    'dir1e2',
    'genuinePairs',
    'impostorPairs',
    'trainSeconds',
    'finalTrainLoss',
  ];
  return (
    [cols.join(','), ...results.map((r) => cols.map((k) => (r[k] === null ? '' : String(r[k]))).join(','))].join('\n') +
    '\n'
  );
}

/** Where and how a benchmark ran, for the report. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'CPU'} × ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ${backendReport()?.line ?? 'backend not reported'}`;
}

/** Grouped bars (mean over seeds, error bar = std) for TAR @ FAR = 1e-4 and rank-1, per loss. */
export function benchmarkBars(
  sum: ReturnType<typeof summarize>,
  title = 'Unseen syllables: mean ± std over seeds',
): Figure {
  const metrics: Array<[string, string]> = [
    ['tar1e4', 'TAR @ FAR = 1e-4'],
    ['rank1', 'rank-1 identification'],
  ];
  return {
    data: metrics.map(([k, name], i) => ({
      type: 'bar',
      name,
      x: sum.map((r) => r.loss),
      y: sum.map((r) => (r.mean[k] === null ? null : 100 * (r.mean[k] as number))),
      error_y: { type: 'data', array: sum.map((r) => 100 * ((r.std[k] as number | null) ?? 0)), visible: true },
      marker: { color: colour(i) },
    })),
    layout: {
      title: titled(title),
      barmode: 'group',
      xaxis: axis('loss'),
      yaxis: axis('%', { range: [0, 100] }),
      height: 420,
    },
  };
}

/** ROC curves on a log-FAR axis, one per loss (the mean TAR over seeds at each FAR of the grid). */
export function benchmarkRocs(
  results: RunResult[],
  losses: string[],
  title = 'Verification ROC on unseen syllables (all pairs)',
): Figure {
  const data = losses
    .map((loss) => results.filter((r) => r.loss === loss))
    .filter((rs) => rs.length > 0)
    .map((rs, i) => {
      const far = rs[0].roc.far;
      const tar = far.map((_, j) => rs.reduce((a, r) => a + (r.roc.tar[j] ?? 0), 0) / rs.length);
      return {
        type: 'scatter',
        mode: 'lines',
        name: `${rs[0].loss} (${rs.length} seed${rs.length > 1 ? 's' : ''})`,
        x: far,
        y: tar,
        line: { color: colour(i), width: 2 },
      };
    });
  return {
    data,
    layout: {
      title: titled(title),
      xaxis: axis('false accept rate (FAR, log scale)', { type: 'log' }),
      yaxis: axis('true accept rate (TAR)', { range: [0, 1.02] }),
      height: 460,
    },
  };
}

/** Every finished run stored in a benchmark's runs folder (any configuration), or [] when none. */
export function loadBenchmarkResults(runsDir: string): RunResult[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readRunResult(path.join(runsDir, f)));
}

/** The summary as a danfo DataFrame: one row per loss, "mean ± std" strings in %, plus numeric means. */
export function benchmarkFrame(sum: ReturnType<typeof summarize>): DataFrameLike {
  const dfd = requireDanfo('benchmarkFrame()');
  const rows = sum.map((r) => {
    const row: Record<string, string | number> = { loss: r.loss, runs: r.runs };
    for (const [k, h] of METRICS)
      row[h] =
        r.mean[k] === null
          ? 'n/a'
          : `${(100 * (r.mean[k] as number)).toFixed(2)} ± ${(100 * ((r.std[k] as number | null) ?? 0)).toFixed(2)}`;
    return row;
  });
  return new dfd.DataFrame(rows);
}

/** A contact sheet: the first `syllables` classes (columns) in the first `faces` faces (rows). */
export function glyphContactSheet(
  ds: GlyphDataset,
  opts: { syllables?: number; faces?: number; title?: string } = {},
): Figure {
  const C = Math.min(opts.syllables ?? 12, ds.meta.syllables.length);
  const F = Math.min(opts.faces ?? 8, ds.meta.faces.length);
  const S = ds.shape[0];
  const at = new Map<number, number>();
  for (let i = 0; i < ds.y.length; i++) at.set(ds.y[i] * 100000 + ds.face[i], i);
  const z: number[][] = Array.from({ length: F * S }, () => new Array(C * S).fill(0));
  for (let c = 0; c < C; c++) {
    for (let f = 0; f < F; f++) {
      const i = at.get(c * 100000 + f);
      if (i === undefined) continue;
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) z[f * S + y][c * S + x] = ds.x[i * S * S + y * S + x];
    }
  }
  return {
    data: [{ type: 'heatmap', z, colorscale: 'Greys', reversescale: true, showscale: false, hoverinfo: 'skip' }],
    layout: {
      title: titled(opts.title ?? `${C} syllables (identities, columns) × ${F} font faces (capture conditions, rows)`),
      xaxis: {
        tickvals: Array.from({ length: C }, (_, c) => c * S + S / 2),
        ticktext: ds.meta.syllables.slice(0, C),
        showgrid: false,
      },
      yaxis: {
        tickvals: Array.from({ length: F }, (_, f) => f * S + S / 2),
        ticktext: ds.meta.faces.slice(0, F).map((f) => `${f.family} ${f.style}`),
        autorange: 'reversed',
        scaleanchor: 'x',
        showgrid: false,
      },
      height: 80 + F * 42,
      margin: { l: 190 },
    },
  };
}
