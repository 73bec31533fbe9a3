#!/usr/bin/env node
/**
 * `npm run bench`: training throughput of the reference model — conv 32 (3×3) → max-pool →
 * conv 64 (3×3) → max-pool → dense 128 → embedding 2, batch 128, ArcFace head, Adam — on every
 * backend that loads here, and the loss head's own share of a step. Prints medians and ratios;
 * asserts nothing about speed.
 *
 * Flags: --steps N (timed steps, default 20), --warmup N (default 3), --backends a,b
 */
import * as os from 'os';
import { parseArgs } from 'util';
import * as tf from '@tensorflow/tfjs';
import { useBestBackend, BackendName, BackendReport } from '../backend';
import { arcFace } from '../losses';
import { referenceNet } from '../models';

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface Row { backend: string; device: string; stepMs: number; samplesPerSec: number; headMs: number; headShare: number; steps: number }

function timeSteps(n: number, warmup: number, fn: () => void): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

async function benchBackend(name: BackendName, steps: number, warmup: number): Promise<Row | string> {
  let report: BackendReport;
  try {
    report = await useBestBackend({ print: false, env: { ...process.env, MARGIN_LAB_BACKEND: name } });
  } catch (e) {
    return `${name}: not available (${(e as Error).message.split('. To use it')[0]})`;
  }
  const batch = 128;
  const model = referenceNet({ name: 'reference', inputShape: [28, 28, 1], embeddingDim: 2, seed: 1 });
  const head = arcFace({ numClasses: 10, embeddingDim: 2, s: 64, m: 0.5 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', 1);
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const vars = [...model.trainableWeights.map((w) => w.read() as tf.Variable), ...head.trainableVariables];
  const step = () => {
    const cost = opt.minimize(() => head.compute(model.apply(x, { training: true }) as tf.Tensor2D, labels), true, vars) as tf.Scalar;
    cost.dataSync();
    cost.dispose();
  };
  const stepTimes = timeSteps(steps, warmup, step);
  // The head alone: its forward and backward on fixed embeddings of the same batch.
  const emb = tf.tidy(() => model.predict(x) as tf.Tensor2D);
  const headStep = () => {
    tf.tidy(() => {
      const g = tf.grads((e: tf.Tensor, w: tf.Tensor) => {
        void w;
        return head.compute(e as tf.Tensor2D, labels);
      })([emb, head.W]);
      g[0].dataSync();
    });
  };
  const headTimes = timeSteps(Math.max(steps, 20), warmup, headStep);
  const stepMs = median(stepTimes);
  const headMs = median(headTimes);
  tf.dispose([x, emb]);
  opt.dispose();
  model.dispose();
  head.dispose();
  return { backend: name, device: report.device, stepMs, samplesPerSec: (batch / stepMs) * 1000, headMs, headShare: headMs / stepMs, steps };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { steps: { type: 'string', default: '20' }, warmup: { type: 'string', default: '3' }, backends: { type: 'string', default: 'tensorflow,wasm,cpu' } }, strict: true });
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
  const backends = String(values.backends).split(',').map((s) => s.trim()) as BackendName[];
  console.log(`margin-lab bench: reference conv net, batch 128, ArcFace (s=64, m=0.5), Adam; median of ${steps} steps after ${warmup} warm-up`);
  console.log(`machine: ${os.cpus()[0]?.model.trim()} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  const rows: Row[] = [];
  for (const b of backends) {
    const r = await benchBackend(b, steps, warmup);
    if (typeof r === 'string') console.log(r);
    else rows.push(r);
  }
  if (rows.length === 0) return;
  const fastest = Math.min(...rows.map((r) => r.stepMs));
  const header = ['backend', 'step ms (median)', 'samples/s', 'head ms', 'head share', 'vs fastest', 'device'];
  const table = rows.map((r) => [r.backend, r.stepMs.toFixed(1), r.samplesPerSec.toFixed(0), r.headMs.toFixed(2), `${(r.headShare * 100).toFixed(1)}%`, `${(r.stepMs / fastest).toFixed(1)}×`, r.device]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const t of table) console.log(fmt(t));
}

main().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
