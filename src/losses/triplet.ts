/**
 * Triplet loss (Schroff et al., FaceNet, CVPR 2015) on L2-normalized embeddings:
 *   L = max(0, ‖a − p‖² − ‖a − n‖² + α),  α = 0.2 in FaceNet.
 * Which triplets are used is the miner's job (miners.ts). The loss is the mean over triplets
 * with positive loss ('mean-active', as in batch-all training) or over all mined ones ('mean').
 * After each call `lastStats` says how many triplets were mined and how many were active.
 *
 * Mining reads the distance matrix on the CPU. Where synchronous reads do not exist (webgpu in
 * Node), the three built-in miners run as masked reductions on the device instead: the same
 * triplets and the same loss, and `lastStats` arrives once the device has answered (a step late
 * at most). A custom miner function needs the CPU path and says so.
 */
import * as tf from '../tf';
import { ComputeOptions, EmbeddingLoss, LabelsLike } from './head';
import { checkTripletBatch, MinerName, miners, TripletMiner } from './miners';
import { l2Normalize, pairwiseSquaredDistances, selectRows } from './ops';
import { checkEmbeddings, LossInputError, readLabels } from './validate';
import { readSyncAvailable, tidyRead } from '../util/read';
import { defineLoss, resolveOptions, specConfig } from './spec';

export interface TripletOptions {
  /** Margin α (FaceNet: 0.2). */
  margin?: number;
  /** A miner name or function (default 'semiHard', FaceNet's choice). */
  miner?: MinerName | TripletMiner;
  /** 'mean-active' (default) or 'mean' over all mined triplets. */
  reduction?: 'mean-active' | 'mean';
}

export interface TripletStats {
  mined: number;
  active: number;
}

export class TripletLoss implements EmbeddingLoss {
  readonly name = 'triplet';
  readonly margin: number;
  readonly miner: TripletMiner;
  readonly minerName: string;
  readonly reduction: 'mean-active' | 'mean';
  readonly trainableVariables: tf.Variable[] = [];
  training = true;
  lastStats: TripletStats = { mined: 0, active: 0 };

  constructor(opts: TripletOptions = {}) {
    const o = resolveOptions(TRIPLET_SPEC, opts);
    this.margin = o.margin;
    const m = o.miner;
    if (typeof m === 'string') {
      this.miner = miners[m as MinerName];
      this.minerName = m;
    } else {
      this.miner = m;
      this.minerName = m.name || 'custom';
    }
    this.reduction = o.reduction;
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return {};
  }

  /** Active triplets of the last batch. */
  stats(): Record<string, number> {
    return { activeTriplets: this.lastStats.active };
  }

  /** The options, with a custom miner by its function's name. */
  config(): Record<string, unknown> {
    return specConfig(TRIPLET_SPEC, { ...this, miner: this.minerName });
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, _options?: ComputeOptions): tf.Scalar {
    checkEmbeddings(this.name, embeddings);
    const n = embeddings.shape[0];
    const { values, tensor } = readLabels(this.name, labels, n);
    tensor.dispose();
    checkTripletBatch(values);
    // The built-in miners run as masked reductions on the device, on every backend; only a custom
    // miner (a function of the distance matrix) reads the distances on the CPU.
    if (this.minerName in miners && this.miner === miners[this.minerName as MinerName])
      return this.computeMasked(embeddings, values);
    if (!readSyncAvailable())
      throw new LossInputError(
        `triplet: the custom miner ${JSON.stringify(this.minerName)} reads distances on the CPU, which the ${tf.getBackend()} backend cannot do synchronously in Node; use one of ${Object.keys(miners).join(', ')}, or run on wasm (MARGIN_LAB_BACKEND=wasm)`,
      );
    return tf.tidy(() => {
      const x = l2Normalize(embeddings, 1) as tf.Tensor2D;
      const dist = tidyRead(() => pairwiseSquaredDistances(x)) as Float32Array;
      const t = this.miner({ dist, labels: values, margin: this.margin });
      if (t.anchors.length === 0) {
        this.lastStats = { mined: 0, active: 0 };
        // Nothing to learn from this batch; a zero that still depends on the input keeps
        // optimizers' gradient plumbing intact.
        return tf.mul(tf.sum(x), 0) as tf.Scalar;
      }
      const a = selectRows(x, t.anchors);
      const dap = tf.sum(tf.square(tf.sub(a, selectRows(x, t.positives))), 1);
      const dan = tf.sum(tf.square(tf.sub(a, selectRows(x, t.negatives))), 1);
      const losses = tf.relu(tf.add(tf.sub(dap, dan), this.margin));
      const active = tidyRead(() => tf.sum(tf.cast(tf.greater(losses, 0), 'float32')))[0];
      this.lastStats = { mined: t.anchors.length, active };
      const denom = this.reduction === 'mean' ? t.anchors.length : Math.max(active, 1);
      return tf.div(tf.sum(losses), denom) as tf.Scalar;
    });
  }

  /**
   * The built-in miners as masked reductions over the distance matrix: what `compute` runs for
   * them on every backend (the miners in miners.ts choose the same triplets on the CPU, for
   * teaching and inspection; a test checks both agree). Labels are on the CPU already, so the
   * label masks are built there.
   */
  computeMasked(embeddings: tf.Tensor2D, labels: Int32Array): tf.Scalar {
    if (!(this.minerName in miners) || this.miner !== miners[this.minerName as MinerName]) {
      throw new LossInputError(
        `triplet: computeMasked runs the built-in miners (${Object.keys(miners).join(', ')}), not the custom miner ${JSON.stringify(this.minerName)}`,
      );
    }
    const n = labels.length;
    const pos = new Float32Array(n * n);
    const neg = new Float32Array(n * n);
    for (let a = 0; a < n; a++) {
      for (let j = 0; j < n; j++) {
        if (labels[a] === labels[j]) pos[a * n + j] = a === j ? 0 : 1;
        else neg[a * n + j] = 1;
      }
    }
    const BIG = 1e9;
    const margin = this.margin;
    const kept = tf.tidy(() => {
      const x = l2Normalize(embeddings, 1) as tf.Tensor2D;
      const d = pairwiseSquaredDistances(x);
      const P = tf.tensor2d(pos, [n, n]);
      const N = tf.tensor2d(neg, [n, n]);
      let losses: tf.Tensor;
      let valid: tf.Tensor;
      if (this.minerName === 'batchHard') {
        // Farthest positive and closest negative of each anchor that has both.
        const dap = tf.max(tf.where(tf.cast(P, 'bool'), d, tf.fill([n, n], -BIG)), 1);
        const dan = tf.min(tf.where(tf.cast(N, 'bool'), d, tf.fill([n, n], BIG)), 1);
        valid = tf.mul(
          tf.cast(tf.greater(tf.sum(P, 1), 0), 'float32'),
          tf.cast(tf.greater(tf.sum(N, 1), 0), 'float32'),
        );
        losses = tf.mul(tf.relu(tf.add(tf.sub(dap, dan), margin)), valid);
      } else {
        const dap = tf.expandDims(d, 2); // [a, p, 1]
        const daq = tf.expandDims(d, 1); // [a, 1, q]
        const isNeg = tf.expandDims(N, 1);
        if (this.minerName === 'batchAll') {
          const mask = tf.mul(tf.expandDims(P, 2), isNeg); // every (a, p, q)
          valid = mask;
          losses = tf.mul(tf.relu(tf.add(tf.sub(dap, daq), margin)), mask);
        } else {
          // Semi-hard: for each (a, p), the closest negative q with d(a,p) < d(a,q) < d(a,p) + α.
          // The masks use step() (its gradient is zero) rather than comparisons, which have no
          // gradient in tfjs and would stop backpropagation.
          const ok = tf.mul(tf.mul(isNeg, tf.step(tf.sub(daq, dap))), tf.step(tf.sub(tf.add(dap, margin), daq)));
          const best = tf.min(tf.add(tf.mul(daq, ok), tf.mul(tf.sub(1, ok), BIG)), 2);
          valid = tf.mul(P, tf.max(ok, 2));
          losses = tf.mul(tf.relu(tf.add(tf.sub(d, best), margin)), valid);
        }
      }
      const mined = tf.sum(valid);
      const active = tf.sum(tf.sign(losses)); // losses ≥ 0, so sign counts the positive ones
      const denom = this.reduction === 'mean' ? tf.maximum(mined, 1) : tf.maximum(active, 1);
      // A batch with nothing mined gives 0 that still depends on the input, like the CPU path.
      const value = tf.add(tf.div(tf.sum(losses), denom), tf.mul(tf.sum(x), 0)) as tf.Scalar;
      return { value, stats: tf.stack([mined, active]) };
    });
    const stats = tf.keep(kept.stats);
    if (readSyncAvailable()) {
      const v = stats.dataSync();
      this.lastStats = { mined: v[0], active: v[1] };
      stats.dispose();
      return kept.value;
    }
    stats.data().then(
      (v) => {
        this.lastStats = { mined: v[0], active: v[1] };
        stats.dispose();
      },
      () => stats.dispose(),
    );
    return kept.value;
  }

  dispose(): void {}
}

/** FaceNet triplet loss max(0, ‖a−p‖² − ‖a−n‖² + α) on normalized embeddings. Defaults: α = 0.2, semi-hard mining. */
export function tripletLoss(opts: TripletOptions = {}): TripletLoss {
  return new TripletLoss(opts);
}

/** The triplet loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const TRIPLET_SPEC = defineLoss({
  id: 'triplet',
  kind: 'pair',
  cls: TripletLoss,
  factory: tripletLoss,
  summary: 'max(0, d(a,p) − d(a,n) + margin) over mined triplets',
  options: {
    margin: { type: 'number', min: 0, exclusiveMin: true, default: 0.2, help: 'margin α' },
    miner: {
      type: 'enum',
      values: Object.keys(miners) as MinerName[],
      orFunction: true,
      default: 'semiHard',
      help: 'triplet miner',
    },
    reduction: {
      type: 'enum',
      values: ['mean-active', 'mean'],
      default: 'mean-active',
      help: 'average over active triplets or all mined ones',
    },
  },
});
