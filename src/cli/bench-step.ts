/**
 * One bench measurement, run in its own process (the wasm thread count can only be chosen before
 * wasm first starts): the reference step — referenceNet (conv 32 → pool → conv 64 → pool → dense
 * 128 → embedding 2), ArcFace head (s = 64, m = 0.5, 10 classes), Adam 1e-3 — on one fixed batch.
 *
 * Reads the backend from MARGIN_LAB_BACKEND and the threads from MARGIN_LAB_THREADS, and the
 * rest from one JSON argument; prints one JSON line (`StepResult`).
 */
import * as tf from '../tf';
import { useBestBackend } from '../backend';
import { arcFace } from '../losses';
import { referenceNet } from '../models';
import { train } from '../train';

/**
 * samples/s of the library's trainer on the bench's model and step: random images of 10 classes,
 * one warm-up epoch of `warmup` steps (at least 1), then one timed epoch of `steps` steps.
 */
async function trainerSpeed(req: StepRequest): Promise<number> {
  const n = req.batch * req.steps;
  const x = new Float32Array(n * 28 * 28);
  let r = 12345;
  for (let i = 0; i < x.length; i++) {
    r = (Math.imul(r, 1103515245) + 12345) >>> 0;
    x[i] = r / 2 ** 32;
  }
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
  batch: number;
  steps: number;
  warmup: number;
  /** Also time the head alone and profile one step's kernels. */
  profile: boolean;
  /** Time the ArcFace head's own forward + backward. */
  head: boolean;
  /** Also run the library's `train()` on the same model and step, for its samples/s. */
  trainer?: boolean;
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

/** Measures the reference step on the backend MARGIN_LAB_BACKEND names (in this process). */
export async function measureStep(req: StepRequest): Promise<StepResult> {
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
    const byName = new Map<string, KernelTime>();
    for (const k of info.kernels) {
      const ms = await Promise.resolve(
        k.kernelTimeMs as number | { error: string } | Promise<number | { error: string }>,
      );
      const t = byName.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
      t.ms += typeof ms === 'number' ? ms : 0;
      t.calls++;
      byName.set(k.name, t);
    }
    out.kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
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
