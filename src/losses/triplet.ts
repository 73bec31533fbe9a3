/**
 * Triplet loss (Schroff et al., FaceNet, CVPR 2015) on L2-normalized embeddings:
 *   L = max(0, ‖a − p‖² − ‖a − n‖² + α),  α = 0.2 in FaceNet.
 * Which triplets are used is the miner's job (miners.ts). The loss is the mean over triplets
 * with positive loss ('mean-active', as in batch-all training) or over all mined ones ('mean').
 * After each call `lastStats` says how many triplets were mined and how many were active.
 */
import * as tf from '@tensorflow/tfjs';
import { ComputeOptions, EmbeddingLoss, LabelsLike } from './head';
import { checkTripletBatch, MinerName, miners, TripletMiner } from './miners';
import { l2Normalize, pairwiseSquaredDistances, selectRows } from './ops';
import { checkEmbeddings, checkPositive, LossInputError, readLabels } from './validate';

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
  readonly name = 'tripletLoss';
  readonly margin: number;
  readonly miner: TripletMiner;
  readonly minerName: string;
  readonly reduction: 'mean-active' | 'mean';
  readonly trainableVariables: tf.Variable[] = [];
  training = true;
  lastStats: TripletStats = { mined: 0, active: 0 };

  constructor(opts: TripletOptions = {}) {
    this.margin = opts.margin ?? 0.2;
    checkPositive('tripletLoss', 'margin', this.margin);
    const m = opts.miner ?? 'semiHard';
    if (typeof m === 'string') {
      if (!(m in miners))
        throw new LossInputError(
          `tripletLoss: unknown miner ${JSON.stringify(m)}; expected one of ${Object.keys(miners).join(', ')}`,
        );
      this.miner = miners[m];
      this.minerName = m;
    } else {
      this.miner = m;
      this.minerName = m.name || 'custom';
    }
    this.reduction = opts.reduction ?? 'mean-active';
    if (this.reduction !== 'mean-active' && this.reduction !== 'mean') {
      throw new LossInputError(
        `tripletLoss: reduction must be 'mean-active' or 'mean', got ${JSON.stringify(this.reduction)}`,
      );
    }
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return {};
  }

  config(): Record<string, unknown> {
    return { loss: 'triplet', margin: this.margin, miner: this.minerName, reduction: this.reduction };
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, _options?: ComputeOptions): tf.Scalar {
    checkEmbeddings(this.name, embeddings);
    const n = embeddings.shape[0];
    const { values, tensor } = readLabels(this.name, labels, n);
    tensor.dispose();
    checkTripletBatch(values);
    return tf.tidy(() => {
      const x = l2Normalize(embeddings, 1) as tf.Tensor2D;
      const dist = tf.tidy(() => pairwiseSquaredDistances(x).dataSync());
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
      const active = tf.tidy(() => tf.sum(tf.cast(tf.greater(losses, 0), 'float32')).dataSync()[0]);
      this.lastStats = { mined: t.anchors.length, active };
      const denom = this.reduction === 'mean' ? t.anchors.length : Math.max(active, 1);
      return tf.div(tf.sum(losses), denom) as tf.Scalar;
    });
  }

  dispose(): void {}
}

/** FaceNet triplet loss max(0, ‖a−p‖² − ‖a−n‖² + α) on normalized embeddings. Defaults: α = 0.2, semi-hard mining. */
export function tripletLoss(opts: TripletOptions = {}): TripletLoss {
  return new TripletLoss(opts);
}
