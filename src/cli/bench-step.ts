/**
 * One bench measurement, run in its own process (the wasm thread count can only be chosen before
 * wasm first starts), of one of two workloads:
 *  - 'recipe': the step `npm run benchmark` trains, built by the benchmark's own code
 *    (headlineConfig → benchmarkRun → train()): the face recipe on the BN reference backbone with
 *    the neck, 128-D, ArcFace over the full glyph set's 1,880 seen syllables, SGD 0.1 with
 *    Nesterov momentum and weight decay 5e-4, batch 128; timed between train()'s onStep calls,
 *    so the trainer's own work (batch gather, finite checks, reads) is in it.
 *  - 'toy': the reference step — referenceNet (conv 32 → pool → conv 64 → pool → dense 128 →
 *    embedding 2), ArcFace head (s = 64, m = 0.5, 10 classes), Adam 1e-3 — on one fixed batch.
 *
 * Reads the backend from MARGIN_LAB_BACKEND and the threads from MARGIN_LAB_THREADS, and the
 * rest from one JSON argument; prints one JSON line (`StepResult`).
 */
import * as tf from '../tf';
import { useBestBackend } from '../backend';
import { arcFace } from '../losses';
import { referenceNet } from '../models';
import { train } from '../train';
import { Rng } from '../util/random';
import { benchmarkRun, headlineConfig, syntheticBenchmarkSplit } from '../benchmark';
import { exportTwinRun } from '../experiments/twin';

/** The loss and seed of the recipe workload (the benchmark's headline loss). */
export const RECIPE_LOSS = 'arcface';

/**
 * samples/s of the library's trainer on the bench's model and step: random images of 10 classes,
 * one warm-up epoch of `warmup` steps (at least 1), then one timed epoch of `steps` steps.
 */
async function trainerSpeed(req: StepRequest): Promise<number> {
  const n = req.batch * req.steps;
  const rng = new Rng(12345);
  const x = Float32Array.from({ length: n * 28 * 28 }, () => rng.next());
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  const spec = {
    name: 'reference' as const,
    inputShape: [28, 28, 1] as [number, number, number],
    embeddingDim: 2,
    seed: 1,
  };
  const model = referenceNet(spec);
  const head = arcFace({ numClasses: 10, embeddingDim: 2, s: 64, m: 0.5 });
  const data = { x, y, shape: [28, 28, 1] as [number, number, number] };
  const epoch = (steps: number) =>
    train({
      model,
      backbone: spec,
      loss: head,
      data,
      epochs: 1,
      batchSize: req.batch,
      maxStepsPerEpoch: steps,
      progress: 'none',
    });
  await epoch(Math.max(1, req.warmup)); // warm-up epoch
  const res = await epoch(req.steps);
  model.dispose();
  head.dispose();
  return res.history[0].samplesPerSec;
}

export interface StepRequest {
  /** Which step to time (default 'toy'). */
  workload?: 'toy' | 'recipe';
  batch: number;
  steps: number;
  warmup: number;
  /** Also time the head alone and profile one step's kernels. */
  profile: boolean;
  /** Time the ArcFace head's own forward + backward. */
  head: boolean;
  /** Also run the library's `train()` on the same model and step, for its samples/s. */
  trainer?: boolean;
  /**
   * Recipe workload only: instead of timing, export the run it trains to this folder (the PyTorch
   * twin's format, which bench/torch_recipe.py reads) and print `{}`.
   */
  exportTo?: string;
}

export interface KernelTime {
  name: string;
  ms: number;
  calls: number;
}

export interface StepResult {
  backend: string;
  device: string;
  threads: number | null;
  batch: number;
  stepMs: number[];
  headMs?: number[];
  /** Kernels of one step, by total time, longest first. */
  kernels?: KernelTime[];
  /** samples/s of `train()` over `steps` steps of one epoch, after a warm-up epoch. */
  trainerSamplesPerSec?: number;
}

/** Times `fn`, which ends with an (asynchronous) read so that the device has finished. */
async function timeSteps(n: number, warmup: number, fn: () => Promise<void>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

/** Kernel times of a tf.profile() run, summed by kernel name, longest first, divided by `per`. */
async function kernelTable(
  kernels: Awaited<ReturnType<typeof tf.profile>>['kernels'],
  per: number,
): Promise<KernelTime[]> {
  const byName = new Map<string, KernelTime>();
  for (const k of kernels) {
    const ms = await Promise.resolve(
      k.kernelTimeMs as number | { error: string } | Promise<number | { error: string }>,
    );
    const t = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    t.ms += typeof ms === 'number' ? ms : 0;
    t.calls++;
    byName.set(k.name, t);
  }
  return [...byName.values()]
    .map((t) => ({ name: t.name, ms: t.ms / per, calls: t.calls / per }))
    .sort((a, b) => b.ms - a.ms);
}

/** Steps profiled by the recipe workload's `profile` (the kernel table is their mean). */
const PROFILED_STEPS = 3;

/**
 * The benchmark's step (see the module comment): `warmup` (at least 1) untimed steps, then
 * `steps` timed ones, all in one train() call on synthetic images of the full set's shape.
 */
export async function measureRecipeStep(req: StepRequest): Promise<StepResult> {
  const report = await useBestBackend({ print: false });
  const config = { ...headlineConfig(RECIPE_LOSS, 1, 1), batch: req.batch };
  const warmup = Math.max(1, req.warmup);
  const split = syntheticBenchmarkSplit(config, req.batch * (warmup + req.steps));
  if (req.exportTo) {
    exportTwinRun(config, split, { loss: RECIPE_LOSS, seed: 1 }, req.exportTo);
    return { backend: report.backend, device: report.device, threads: null, batch: req.batch, stepMs: [] };
  }
  const { model, loss, trainOptions } = benchmarkRun(config, split, { loss: RECIPE_LOSS, seed: 1 });
  try {
    const stamps: number[] = [];
    await train({
      ...trainOptions,
      progress: 'none',
      onStep: () => {
        stamps.push(Number(process.hrtime.bigint()) / 1e6);
      },
    });
    const stepMs = stamps.slice(warmup).map((t, i) => t - stamps[warmup - 1 + i]);
    const out: StepResult = {
      backend: report.backend,
      device: report.device,
      threads: report.threads ?? null,
      batch: req.batch,
      stepMs,
    };
    if (req.profile) {
      // One step to build the optimizer's slots, then PROFILED_STEPS profiled ones: the engine's
      // profile is emptied after the first step (its list is the engine's own state).
      const engine = tf.engine() as unknown as { state: { activeProfile: { kernels: unknown[] } } };
      const info = await tf.profile(() =>
        train({
          ...trainOptions,
          maxStepsPerEpoch: 1 + PROFILED_STEPS,
          progress: 'none',
          onStep: (row) => {
            if (row.step === 1) engine.state.activeProfile.kernels.length = 0;
          },
        }).then(() => undefined),
      );
      out.kernels = await kernelTable(info.kernels, PROFILED_STEPS);
    }
    return out;
  } finally {
    model.dispose();
    loss.dispose();
  }
}

/** Measures the bench's step on the backend MARGIN_LAB_BACKEND names (in this process). */
export async function measureStep(req: StepRequest): Promise<StepResult> {
  if (req.workload === 'recipe') return measureRecipeStep(req);
  const report = await useBestBackend({ print: false });
  const { batch } = req;
  const model = referenceNet({ name: 'reference', inputShape: [28, 28, 1], embeddingDim: 2, seed: 1 });
  const head = arcFace({ numClasses: 10, embeddingDim: 2, s: 64, m: 0.5 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1);
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const vars = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...head.trainableVariables];
  // Reads are asynchronous: webgpu in Node has no synchronous read, and on wasm the two cost the same.
  const step = async () => {
    const cost = opt.minimize(
      () => head.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels),
      true,
      vars,
    ) as tf.Scalar;
    await cost.data();
    cost.dispose();
  };
  const stepMs = await timeSteps(req.steps, req.warmup, step);
  const out: StepResult = {
    backend: report.backend,
    device: report.device,
    threads: report.threads ?? null,
    batch,
    stepMs,
  };
  if (req.head) {
    const emb = tf.tidy(() => model.predict(x) as tf.Tensor2D);
    out.headMs = await timeSteps(Math.max(req.steps, 20), req.warmup, async () => {
      const g = tf.tidy(() =>
        tf.grads((e: tf.Tensor, w: tf.Tensor) => {
          void w;
          return head.compute(e as tf.Tensor2D, labels);
        })([emb, head.W]),
      );
      await g[0].data();
      tf.dispose(g);
    });
    emb.dispose();
  }
  if (req.trainer) out.trainerSamplesPerSec = await trainerSpeed(req);
  if (req.profile) {
    const info = await tf.profile(() => step());
    out.kernels = await kernelTable(info.kernels, 1);
  }
  tf.dispose(x);
  opt.dispose();
  model.dispose();
  head.dispose();
  return out;
}

if (require.main === module) {
  const req = JSON.parse(process.argv[2] ?? '{}') as StepRequest;
  measureStep(req)
    .then((r) => console.log(JSON.stringify(r)))
    .catch((e: Error) => {
      console.error(`error: ${e.message}`);
      process.exit(1);
    });
}
