/**
 * The PyTorch training twin: the same run as margin-lab's, trained by PyTorch, so that a reader
 * can check that margin-lab trains as well as the standard tool (bench/torch_twin.py).
 *
 * Nothing is re-implemented on the Python side that decides *what* is trained: margin-lab exports
 *   - the split's images and labels (uint8 pixels, as stored), shared by every run;
 *   - per run: the network as a list of layers with their tfjs configuration and initial weights
 *     (so PyTorch starts from exactly margin-lab's initialisation), the loss's configuration and
 *     initial state, each epoch's batch order (the trainer's own shuffle, `epochOrder`) and the
 *     learning rate of every step (`learningRateAt`).
 * PyTorch then trains with its own layers, autograd and optimizer (torch.optim.SGD with
 * `nesterov`/`weight_decay`, or Adam / AdamW), embeds the test images with the moving BN
 * statistics, and margin-lab scores those embeddings with the same `openSetMetrics`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ClassifierHead, LossName, PAIR_LOSSES } from '../losses';
import {
  benchmarkRun,
  benchmarkSplit,
  BenchmarkConfig,
  benchmarkStepsPerEpoch,
  configKey,
  BenchmarkRun,
} from '../benchmark';
import { openSetMetrics } from '../eval/open-set';
import { epochOrder, learningRateAt } from '../train/trainer';
import { Rng } from '../util/random';
import { writeFileAtomic } from '../util/fs';

/** Losses the twin implements (bench/torch_twin.py): the benchmark's six core losses. */
export const TWIN_LOSSES: readonly LossName[] = [
  'softmax',
  'normface',
  'sphereface',
  'cosface',
  'arcface',
  'curricularface',
];

export interface TwinResult extends BenchmarkRun {
  system: 'torch';
  torchVersion: string;
  threads: number;
}

type Split = ReturnType<typeof benchmarkSplit>;

function toU8(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.round(x[i] * 255);
  return out;
}

function writeBinary(file: string, a: ArrayBufferView): void {
  writeFileAtomic(file, Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}

/** Writes the split's images and labels once per configuration (reused by every run). */
export function exportTwinData(split: Split, dir: string): void {
  const stamp = path.join(dir, 'data.json');
  if (fs.existsSync(stamp)) return;
  fs.mkdirSync(dir, { recursive: true });
  // Pixels were stored as bytes and divided by 255; the bytes come back exactly.
  writeBinary(path.join(dir, 'train-x.u8'), toU8(split.train.x));
  writeBinary(path.join(dir, 'train-y.i32'), split.train.localY);
  writeBinary(path.join(dir, 'test-x.u8'), toU8(split.test.x));
  writeBinary(path.join(dir, 'test-y.i32'), split.test.y);
  writeFileAtomic(
    stamp,
    JSON.stringify({
      shape: split.train.shape,
      train: split.train.y.length,
      test: split.test.y.length,
      classes: split.seen.length,
    }),
  );
}

/** Writes one run's network, initial weights, loss, batch order and learning rates. */
export function exportTwinRun(
  c: BenchmarkConfig,
  split: Split,
  r: { loss: LossName; seed: number },
  dir: string,
): void {
  if (!TWIN_LOSSES.includes(r.loss))
    throw new Error(`twin: ${r.loss} has no PyTorch twin; the twin covers ${TWIN_LOSSES.join(', ')}`);
  fs.mkdirSync(dir, { recursive: true });
  const { model, loss, trainOptions } = benchmarkRun(c, split, r);
  try {
    const layers = model.layers.map((l) => ({
      className: l.getClassName(),
      config: l.getConfig(),
      weights: l.weights.map((w) => ({
        name: w.originalName.slice(w.originalName.lastIndexOf('/') + 1),
        shape: w.shape,
        trainable: w.trainable,
      })),
    }));
    const layerWeights = model.layers.flatMap((l) => l.weights.map((w) => w.read().dataSync() as Float32Array));
    const lossState = Object.entries(loss.stateDict()).map(([name, v]) => ({
      name,
      shape: v.shape,
      data: v.dataSync() as Float32Array,
    }));
    const total = [...layerWeights, ...lossState.map((s) => s.data)].reduce((a, w) => a + w.length, 0);
    const flat = new Float32Array(total);
    let off = 0;
    for (const w of [...layerWeights, ...lossState.map((s) => s.data)]) {
      flat.set(w, off);
      off += w.length;
    }
    writeBinary(path.join(dir, 'weights.f32'), flat);
    // The trainer's batch order and learning rates, replayed exactly.
    const n = split.train.y.length;
    const batch = trainOptions.batchSize!;
    const stepsPerEpoch = benchmarkStepsPerEpoch(c, n);
    const totalSteps = stepsPerEpoch * trainOptions.epochs;
    const rng = new Rng(trainOptions.seed ?? 0);
    const orders = new Int32Array(n * trainOptions.epochs);
    for (let e = 0; e < trainOptions.epochs; e++) orders.set(epochOrder(rng, n), e * n);
    writeBinary(path.join(dir, 'order.i32'), orders);
    const lrs = Float32Array.from({ length: totalSteps }, (_, k) =>
      learningRateAt(trainOptions.lr!, trainOptions.schedule!, k, stepsPerEpoch, totalSteps),
    );
    writeBinary(path.join(dir, 'lr.f32'), lrs);
    writeFileAtomic(
      path.join(dir, 'run.json'),
      JSON.stringify(
        {
          loss: r.loss,
          seed: r.seed,
          lossConfig: loss.config(),
          lossState: lossState.map(({ name, shape }) => ({ name, shape })),
          layers,
          inputShape: split.train.shape,
          embeddingDim: c.dim,
          numClasses: (loss as ClassifierHead).numClasses,
          optimizer: trainOptions.optimizer,
          momentum: trainOptions.momentum ?? 0,
          nesterov: trainOptions.nesterov ?? false,
          weightDecay: trainOptions.weightDecay ?? 0,
          batch,
          epochs: trainOptions.epochs,
          stepsPerEpoch,
          totalSteps,
          train: n,
        },
        null,
        1,
      ),
    );
  } finally {
    model.dispose();
    loss.dispose();
  }
}

export interface TwinOptions {
  config: BenchmarkConfig;
  split: Split;
  /** The benchmark's output folder: the twin writes `<out>/twin/`. */
  out: string;
  /** The Python that has torch (default: MARGIN_LAB_PYTHON, else /usr/bin/python3). */
  python?: string;
  /** Threads for torch (default: the machine's cores). */
  threads?: number;
  /** Only read the twin runs already on disk; train none (for a report while the twin is still running). */
  finishedOnly?: boolean;
  log?: (line: string) => void;
}

/** Runs the twin for every (loss, seed) of the configuration that has none yet; returns all twin results. */
export function runTwin(opts: TwinOptions): TwinResult[] {
  const c = opts.config;
  const log = opts.log ?? ((l: string) => console.log(l));
  const python = opts.python ?? process.env.MARGIN_LAB_PYTHON ?? '/usr/bin/python3';
  const key = configKey(c);
  const root = path.join(opts.out, 'twin');
  const dataDir = path.join(root, `data-${key}`);
  const script = path.join(__dirname, '..', '..', 'bench', 'torch_twin.py');
  const results: TwinResult[] = [];
  for (const loss of c.losses) {
    if (PAIR_LOSSES.includes(loss) || !TWIN_LOSSES.includes(loss)) {
      log(`twin: ${loss} skipped (the twin covers ${TWIN_LOSSES.join(', ')})`);
      continue;
    }
    for (const seed of c.seeds) {
      const file = path.join(root, `${loss}-seed${seed}-${key}.json`);
      if (fs.existsSync(file)) {
        let twin: TwinResult;
        try {
          twin = JSON.parse(fs.readFileSync(file, 'utf8')) as TwinResult;
        } catch (e) {
          throw new Error(
            `twin run file ${file}: not readable JSON (${(e as Error).message}); delete it to run that twin again`,
          );
        }
        results.push(twin);
        continue;
      }
      if (opts.finishedOnly) {
        log(`twin: ${loss} seed ${seed} not trained yet (left out of the comparison: --finished-only)`);
        continue;
      }
      exportTwinData(opts.split, dataDir);
      const runDir = path.join(root, 'work', `${loss}-seed${seed}-${key}`);
      exportTwinRun(c, opts.split, { loss, seed }, runDir);
      const args = [script, '--data', dataDir, '--run', runDir];
      if (opts.threads) args.push('--threads', String(opts.threads));
      const started = Date.now();
      const p = spawnSync(python, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (p.error) throw new Error(`twin: could not run ${python}: ${p.error.message}`);
      if (p.status !== 0)
        throw new Error(`twin: ${python} ${path.basename(script)} failed for ${loss} seed ${seed} (exit ${p.status})`);
      const out = JSON.parse(p.stdout.trim().split('\n').pop()!) as {
        finalTrainLoss: number;
        trainSeconds: number;
        torch: string;
        threads: number;
      };
      const emb = new Float32Array(fs.readFileSync(path.join(runDir, 'test-emb.f32')).buffer.slice(0));
      const metrics = openSetMetrics(emb, c.dim, opts.split.test.y, 0);
      const result: TwinResult = {
        loss,
        seed,
        ...metrics,
        trainSeconds: out.trainSeconds,
        finalTrainLoss: out.finalTrainLoss,
        system: 'torch',
        torchVersion: out.torch,
        threads: out.threads,
      };
      writeFileAtomic(file, JSON.stringify(result));
      fs.rmSync(runDir, { recursive: true, force: true });
      results.push(result);
      log(
        `twin: ${loss} seed ${seed} (PyTorch ${out.torch}, ${out.threads} threads, ${((Date.now() - started) / 1000).toFixed(0)} s): TAR@1e-4 ${metrics.tar1e4 === null ? 'n/a' : (100 * metrics.tar1e4).toFixed(2) + '%'}, rank-1 ${(100 * metrics.rank1).toFixed(2)}%`,
      );
    }
  }
  return results;
}

/** Tolerances of the acceptance check: mean over seeds, in percentage points. */
export const TWIN_TOLERANCE = { tar1e4: 3, rank1: 1.5 };

export interface TwinComparison {
  loss: string;
  seeds: number;
  ours: { tar1e4: number | null; rank1: number; finalTrainLoss: number };
  torch: { tar1e4: number | null; rank1: number; finalTrainLoss: number };
  /** Within TWIN_TOLERANCE on both metrics. */
  within: boolean;
}

/** margin-lab against PyTorch per loss, over the seeds both have. */
export function compareTwin(ours: BenchmarkRun[], twin: TwinResult[], losses: string[]): TwinComparison[] {
  const mean = (xs: Array<number | null>) => {
    const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
  };
  return losses
    .map((loss) => {
      const t = twin.filter((r) => r.loss === loss);
      const o = ours.filter((r) => r.loss === loss && t.some((x) => x.seed === r.seed));
      if (o.length === 0) return null;
      const pick = (rs: BenchmarkRun[]) => ({
        tar1e4: mean(rs.map((r) => r.tar1e4)),
        rank1: mean(rs.map((r) => r.rank1)) ?? NaN,
        finalTrainLoss: mean(rs.map((r) => r.finalTrainLoss)) ?? NaN,
      });
      const a = pick(o);
      const b = pick(t.filter((x) => o.some((r) => r.seed === x.seed)));
      const within =
        a.tar1e4 !== null &&
        b.tar1e4 !== null &&
        Math.abs(a.tar1e4 - b.tar1e4) * 100 <= TWIN_TOLERANCE.tar1e4 &&
        Math.abs(a.rank1 - b.rank1) * 100 <= TWIN_TOLERANCE.rank1;
      return { loss, seeds: o.length, ours: a, torch: b, within };
    })
    .filter((x): x is TwinComparison => x !== null);
}

/** The comparison as a Markdown table. */
export function twinMarkdown(rows: TwinComparison[]): string {
  const pct = (v: number | null) => (v === null || Number.isNaN(v) ? 'n/a' : (100 * v).toFixed(2));
  const diff = (a: number | null, b: number | null) =>
    a === null || b === null ? 'n/a' : `${a - b >= 0 ? '+' : ''}${(100 * (a - b)).toFixed(2)}`;
  return [
    '| loss | seeds | TAR@1e-4 margin-lab | TAR@1e-4 PyTorch | difference | rank-1 margin-lab | rank-1 PyTorch | difference | final loss margin-lab | final loss PyTorch | within tolerance |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.loss} | ${r.seeds} | ${pct(r.ours.tar1e4)} | ${pct(r.torch.tar1e4)} | ${diff(r.ours.tar1e4, r.torch.tar1e4)} | ${pct(r.ours.rank1)} | ${pct(r.torch.rank1)} | ${diff(r.ours.rank1, r.torch.rank1)} | ${r.ours.finalTrainLoss.toFixed(3)} | ${r.torch.finalTrainLoss.toFixed(3)} | ${r.within ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');
}
