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
 * the runs that are done, so a benchmark can span several sittings. A run in progress keeps its
 * trainer checkpoint (after every epoch) in `<dir>/partial/<run>/`: a rerun resumes it at the
 * epoch it reached (bit-identical to an uninterrupted run on the same backend, as `--resume` is),
 * and the folder is removed once the run's result is written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { createLoss, EmbeddingLoss, PAIR_LOSSES, LossName } from '../losses';
import { buildBackbone, BackboneSpec } from '../models';
import { train, TrainOptions, EpochRow } from '../train';
import { readCheckpoint, loadModelWeights } from '../train/checkpoint';
import type { LayersModel } from '../tf';
import { embedImagesAsync } from '../eval/report';
import { openSetMetrics, OpenSetMetrics } from '../eval/open-set';
import {
  hangulSyllables,
  loadHangulGlyphs,
  readGlyphMeta,
  seededClassSplit,
  splitByFace,
  GlyphDataset,
} from '../data/glyphs';
import { dataDir, selectClasses } from '../data/dataset';
import { GLYPH_FACE_SPLIT_SEED } from '../data/named';
import { writeFileAtomic } from '../util/fs';
import { Rng } from '../util/random';
import { BenchmarkConfig, benchmarkStepsPerEpoch, configKey } from './config';
import { fmtPct } from './report';
import { clock, progressBar } from '../train/progress';

/** One finished (loss, seed) run: its open-set metrics and how its training went. */
export interface BenchmarkRun extends OpenSetMetrics {
  loss: LossName;
  seed: number;
  trainSeconds: number;
  finalTrainLoss: number;
  /** The last epoch's batch accuracy on the seen identities (runs before 2026-12-07 lack it). */
  finalTrainAccuracy?: number;
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

/** The seed of the benchmark's identity split (which syllables are seen): fixed, so every run and seed compares on the same syllables. */
export const BENCHMARK_IDENTITY_SPLIT_SEED = 0;

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
  const { seen, unseen } = seededClassSplit(numClasses, {
    seenFraction: c.seenFraction,
    seed: BENCHMARK_IDENTITY_SPLIT_SEED,
  });
  const { train: trainFaces, test: testFaces } = splitByFace(ds, { seed: GLYPH_FACE_SPLIT_SEED });
  return { seen, unseen, train: selectClasses(trainFaces, seen), test: selectClasses(testFaces, unseen) };
}

/** What a benchmark run trains and tests on (the return of {@link benchmarkSplit}). */
export type BenchmarkSplit = ReturnType<typeof benchmarkSplit>;

/**
 * A split of the configuration's shape without the glyph images: the same seen identities
 * (the full set's 2,350 syllables, or `identities`, split as the benchmark splits them) and the
 * glyph set's image size, with `n` uniform random images labelled round-robin. For timing a
 * benchmark step (`npm run bench`) where the full glyph set is not built; nothing is learned
 * from it. No test images.
 */
export function syntheticBenchmarkSplit(c: BenchmarkConfig, n: number, seed = 1): BenchmarkSplit {
  const size = readGlyphMeta(path.join(dataDir(), 'hangul-glyphs')).size;
  const { seen, unseen } = seededClassSplit(c.identities ?? hangulSyllables().length, {
    seenFraction: c.seenFraction,
    seed: BENCHMARK_IDENTITY_SPLIT_SEED,
  });
  const shape: [number, number, number] = [size, size, 1];
  const rng = new Rng(seed);
  const x = Float32Array.from({ length: n * size * size }, () => rng.next());
  const localY = Int32Array.from({ length: n }, (_, i) => i % seen.length);
  const part = (name: string, xs: Float32Array, ys: Int32Array, local: Int32Array, classes: number[]) => ({
    name,
    x: xs,
    y: ys,
    localY: local,
    classes,
    shape,
    classNames: [] as string[],
  });
  return {
    seen,
    unseen,
    train: part(
      'synthetic-train',
      x,
      Int32Array.from(localY, (k) => seen[k]),
      localY,
      seen,
    ),
    test: part('synthetic-test', new Float32Array(0), new Int32Array(0), new Int32Array(0), unseen),
  } as unknown as BenchmarkSplit;
}

/**
 * The model, loss and training options of one (loss, seed) run: the one place that turns a
 * configuration into a run (the benchmark, the ablation and the PyTorch twin's export use it).
 */
export function benchmarkRun(
  c: BenchmarkConfig,
  split: BenchmarkSplit,
  r: { loss: LossName; seed: number },
): { model: LayersModel; loss: EmbeddingLoss; trainOptions: TrainOptions } {
  const backbone: BackboneSpec = {
    name: c.backbone,
    inputShape: split.train.shape,
    embeddingDim: c.dim,
    seed: r.seed,
    ...(c.batchNorm ? { batchNorm: true } : {}),
    ...(c.neck ? { neck: true } : {}),
    // Configurations without a layout are the runs made before it existed: 'relu-bn'.
    ...(c.neck && c.backbone === 'reference' ? { neckLayout: c.neckLayout ?? 'relu-bn' } : {}),
  };
  if (c.neckLayout !== undefined && !(c.neck && c.backbone === 'reference'))
    throw new Error(
      `benchmark: neckLayout ${JSON.stringify(c.neckLayout)} applies to the reference backbone with the neck, not ${c.backbone}${c.neck ? '' : ' without it'}`,
    );
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
export function readBenchmarkRun(file: string, expect?: { loss: string; seed: number }): BenchmarkRun {
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
  if (r.finalTrainAccuracy !== undefined && (typeof r.finalTrainAccuracy !== 'number' || !(r.finalTrainAccuracy >= 0)))
    bad('finalTrainAccuracy must be a number ≥ 0 when present', r.finalTrainAccuracy);
  const roc = r.roc as { far?: unknown; tar?: unknown } | undefined;
  if (!roc || !Array.isArray(roc.far) || !Array.isArray(roc.tar) || roc.far.length !== roc.tar.length)
    bad('roc must hold far and tar lists of one length', roc);
  return r as unknown as BenchmarkRun;
}

/** Runs (or resumes) the benchmark; returns every result, finished now or earlier. */
export async function runOpenSetBenchmark(opts: BenchmarkOptions): Promise<BenchmarkRun[]> {
  const c = opts.config;
  const log = opts.log ?? ((l: string) => console.log(l));
  const ds = opts.data ?? loadHangulGlyphs(c.data === 'full' ? { dir: fullGlyphDir() } : {});
  const split = benchmarkSplit(ds, c);
  const key = configKey(c);
  fs.mkdirSync(opts.dir, { recursive: true });
  const runs = c.losses.flatMap((loss) => c.seeds.map((seed) => ({ loss, seed })));
  const fileOf = (r: { loss: string; seed: number }) => path.join(opts.dir, `${r.loss}-seed${r.seed}-${key}.json`);
  const results: BenchmarkRun[] = [];
  const todo = runs.filter((r) => {
    const f = fileOf(r);
    if (!fs.existsSync(f)) return true;
    results.push(readBenchmarkRun(f, r));
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
    const { model, loss, trainOptions } = benchmarkRun(c, split, r);
    const partial = partialRunDir(opts.dir, r, key);
    const ckFile = path.join(partial, 'checkpoint.json');
    const ck = fs.existsSync(ckFile) ? readCheckpoint(ckFile) : undefined;
    let history: EpochRow[];
    if (ck && ck.epoch >= c.epochs) {
      // Trained to the end, stopped before its result was written: evaluate the saved weights.
      log(`benchmark: ${r.loss} seed ${r.seed} finished training in ${partial}; evaluating its checkpoint`);
      loadModelWeights(model, ck.model, ckFile);
      history = ck.history as unknown as EpochRow[];
    } else {
      if (ck) log(`benchmark: ${r.loss} seed ${r.seed}: resuming from epoch ${ck.epoch} of ${c.epochs} (${partial})`);
      fs.mkdirSync(partial, { recursive: true });
      const res = await train({
        ...trainOptions,
        progress: opts.progress ?? 'auto',
        runDir: partial,
        ...(ck ? { resume: ckFile } : {}),
      });
      history = res.history;
    }
    // The training time of every sitting: each epoch's own seconds.
    const trainSeconds = history.reduce((a, row) => a + row.seconds, 0);
    const { emb, dim } = await embedImagesAsync(model, split.test.x, split.test.shape);
    const metrics = openSetMetrics(emb, dim, split.test.y, 0);
    const result: BenchmarkRun = {
      loss: r.loss,
      seed: r.seed,
      ...metrics,
      trainSeconds,
      finalTrainLoss: history[history.length - 1].loss,
      ...(Number.isFinite(history[history.length - 1].accuracy)
        ? { finalTrainAccuracy: history[history.length - 1].accuracy }
        : {}),
    };
    writeFileAtomic(fileOf(r), JSON.stringify(result));
    fs.rmSync(partial, { recursive: true, force: true });
    const parent = path.dirname(partial);
    if (fs.existsSync(parent) && fs.readdirSync(parent).length === 0) fs.rmdirSync(parent);
    results.push(result);
    model.dispose();
    loss.dispose();
    done++;
    const per = (Date.now() - t0) / 1000 / done;
    log(
      `benchmark ${progressBar((runs.length - todo.length + done) / Math.max(1, runs.length))} ${runs.length - todo.length + done}/${runs.length} runs; ` +
        `${r.loss} seed ${r.seed}: TAR@1e-4 ${fmtPct(result.tar1e4)}, rank-1 ${fmtPct(result.rank1)} (${trainSeconds.toFixed(0)} s); ETA ${clock(per * (todo.length - done))}`,
    );
  }
  return results;
}

/** Where a run in progress keeps its trainer checkpoint (see the module comment). */
export function partialRunDir(runsDir: string, r: { loss: string; seed: number }, key: string): string {
  return path.join(runsDir, 'partial', `${r.loss}-seed${r.seed}-${key}`);
}

/** Every finished run stored in a benchmark's runs folder (any configuration), or [] when none. */
export function loadBenchmarkResults(runsDir: string): BenchmarkRun[] {
  if (!fs.existsSync(runsDir)) return [];
  return fs
    .readdirSync(runsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => readBenchmarkRun(path.join(runsDir, f)));
}
