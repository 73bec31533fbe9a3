/**
 * Contrastive loss (Hadsell, Chopra & LeCun, CVPR 2006). For a pair with distance D and pair
 * label Y (0 = same identity, 1 = different — fixed by the data):
 *   L = (1 − Y)·½·D² + Y·½·max(0, m − D)²
 * Similar pairs are pulled together; dissimilar ones pushed out to at least the margin m.
 * `compute(embeddings, labels)` forms all pairs i < j in the batch; `computePairs(a, b, y)`
 * takes pairs given explicitly. Distance: Euclidean (default) or cosine (1 − cos).
 */
import * as tf from '../tf';
import { ComputeOptions, EmbeddingLoss, LabelsLike } from './head';
import { l2Normalize, pairwiseSquaredDistances, safeSqrt } from './ops';
import { checkEmbeddings, checkSquaredDistanceRange, LossInputError, readLabels } from './validate';
import { readSyncAvailable } from '../util/read';
import { defineLoss, resolveOptions, specConfig } from './spec';

export type PairDistance = 'euclidean' | 'cosine';

export interface ContrastiveOptions {
  /** Margin m for dissimilar pairs (default 1 for Euclidean, 0.5 for cosine distance). */
  margin?: number;
  distance?: PairDistance;
  /** L2-normalize embeddings first (default false for Euclidean; cosine distance always normalizes). */
  normalize?: boolean;
}

export class ContrastiveLoss implements EmbeddingLoss {
  readonly name = 'contrastive';
  readonly margin: number;
  readonly distance: PairDistance;
  readonly normalize: boolean;
  readonly trainableVariables: tf.Variable[] = [];
  training = true;

  constructor(opts: ContrastiveOptions = {}) {
    const o = resolveOptions(CONTRASTIVE_SPEC, opts);
    this.distance = o.distance;
    this.margin = o.margin ?? (o.distance === 'cosine' ? 0.5 : 1);
    this.normalize = o.normalize;
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return {};
  }

  config(): Record<string, unknown> {
    return specConfig(CONTRASTIVE_SPEC, this);
  }

  /** Loss of each pair from its squared distance (Euclidean) or distance (cosine) and label. */
  private pairTerms(dist: tf.Tensor, dissimilar: tf.Tensor, squared: boolean): tf.Tensor {
    // D² is used directly for the similar term: no square root, so duplicates (D = 0) are smooth.
    const d2 = squared ? dist : tf.square(dist);
    const d = squared ? safeSqrt(dist) : dist;
    const pull = tf.mul(tf.sub(1, dissimilar), tf.mul(0.5, d2));
    const push = tf.mul(dissimilar, tf.mul(0.5, tf.square(tf.relu(tf.sub(this.margin, d)))));
    return tf.add(pull, push);
  }

  private prepare(x: tf.Tensor2D): tf.Tensor2D {
    return this.normalize || this.distance === 'cosine' ? (l2Normalize(x, 1) as tf.Tensor2D) : x;
  }

  /** Raw Euclidean distances overflow for |x| past ~1e18: refused, naming the magnitude. */
  private checkRange(x: tf.Tensor2D): void {
    if (!this.normalize && this.distance === 'euclidean')
      checkSquaredDistanceRange(
        this.name,
        x,
        readSyncAvailable(),
        "scale the embeddings down, or use normalize: true or distance: 'cosine'",
      );
  }

  /** Mean over all pairs i < j of the batch; Y = 1 where labels differ. */
  compute(embeddings: tf.Tensor2D, labels: LabelsLike, _options?: ComputeOptions): tf.Scalar {
    checkEmbeddings(this.name, embeddings);
    const n = embeddings.shape[0];
    if (n < 2) throw new LossInputError(`contrastive: a batch needs at least 2 embeddings to form a pair, got ${n}`);
    const { values, tensor } = readLabels(this.name, labels, n);
    tensor.dispose();
    this.checkRange(embeddings);
    if (new Set(values).size === n)
      throw new LossInputError(
        `contrastive: the batch of ${n} has no positive pair (no two embeddings share a label), so nothing is pulled together; use P×K batches (train's pk option) or computePairs with explicit pairs`,
      );
    return tf.tidy(() => {
      const upper: number[] = [];
      const dissimilar: number[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          upper.push(j > i ? 1 : 0);
          dissimilar.push(values[i] === values[j] ? 0 : 1);
        }
      }
      const x = this.prepare(embeddings);
      const dist = this.distance === 'cosine' ? tf.sub(1, tf.matMul(x, x, false, true)) : pairwiseSquaredDistances(x);
      const terms = this.pairTerms(dist, tf.tensor2d(dissimilar, [n, n]), this.distance === 'euclidean');
      const mask = tf.tensor2d(upper, [n, n]);
      return tf.div(tf.sum(tf.mul(terms, mask)), (n * (n - 1)) / 2) as tf.Scalar;
    });
  }

  /** Mean loss of explicit pairs (a_i, b_i) with pair labels y_i (0 = same, 1 = different). */
  computePairs(a: tf.Tensor2D, b: tf.Tensor2D, y: ArrayLike<number> | tf.Tensor1D): tf.Scalar {
    checkEmbeddings(this.name, a);
    checkEmbeddings(this.name, b);
    if (a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
      throw new LossInputError(
        `contrastive: pair sides must have the same shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
      );
    }
    const yv = y instanceof tf.Tensor ? y.dataSync() : y;
    if (yv.length !== a.shape[0])
      throw new LossInputError(`contrastive: ${yv.length} pair labels for ${a.shape[0]} pairs`);
    for (let i = 0; i < yv.length; i++) {
      if (yv[i] !== 0 && yv[i] !== 1)
        throw new LossInputError(
          `contrastive: pair label y[${i}] = ${yv[i]} must be 0 (same identity) or 1 (different)`,
        );
    }
    this.checkRange(a);
    this.checkRange(b);
    return tf.tidy(() => {
      const xa = this.prepare(a);
      const xb = this.prepare(b);
      const dist =
        this.distance === 'cosine' ? tf.sub(1, tf.sum(tf.mul(xa, xb), 1)) : tf.sum(tf.square(tf.sub(xa, xb)), 1);
      return tf.mean(this.pairTerms(dist, tf.tensor1d(Array.from(yv)), this.distance === 'euclidean')) as tf.Scalar;
    });
  }

  dispose(): void {}
}

/** Contrastive loss (1 − Y)·½D² + Y·½·max(0, m − D)². Defaults: Euclidean, m = 1. */
export function contrastiveLoss(opts: ContrastiveOptions = {}): ContrastiveLoss {
  return new ContrastiveLoss(opts);
}

/** The contrastive loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const CONTRASTIVE_SPEC = defineLoss({
  id: 'contrastive',
  kind: 'pair',
  cls: ContrastiveLoss,
  factory: contrastiveLoss,
  summary: 'pulls genuine pairs together, pushes impostors beyond a margin',
  options: {
    margin: {
      type: 'number',
      min: 0,
      exclusiveMin: true,
      defaultText: '1 for euclidean, 0.5 for cosine',
      help: 'margin',
    },
    distance: { type: 'enum', values: ['euclidean', 'cosine'], default: 'euclidean', help: 'pair distance' },
    normalize: { type: 'boolean', default: false, help: 'L2-normalize embeddings first' },
  },
});
