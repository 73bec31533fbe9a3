/**
 * Center loss (Wen et al., ECCV 2016): L_C = ½‖x_i − c_{y_i}‖² (mean over the batch here), used
 * together with softmax, L = L_S + λ·L_C. Centers are not trained by the optimizer: after each
 * training-mode batch, c_j ← c_j − α·Δc_j with Δc_j = Σ_{i: y_i = j}(c_j − x_i) / (1 + n_j).
 */
import * as tf from '../tf';
import { checkHeadSize, ClassifierHead, ComputeOptions, EmbeddingLoss, HeadOptions, LabelsLike } from './head';
import { SoftmaxLoss } from './softmax';
import {
  checkEmbeddings,
  checkSquaredDistanceRange,
  checkPositiveInteger,
  checkRange,
  readLabels,
  checkOptionKeys,
  optionKeys,
} from './validate';
import { defineLoss, resolveOptions, specConfig } from './spec';
import { unlessNonFinite } from './ops';
import { readSyncAvailable } from '../util/read';

export interface CenterLossOptions {
  numClasses: number;
  embeddingDim: number;
  /** Center learning rate α in [0, 1] (paper: 0.5). */
  alpha?: number;
  /** Initial centers [C, D] (default zeros). */
  centers?: number[][];
}

export class CenterLoss implements EmbeddingLoss {
  readonly name = 'centerLoss';
  readonly numClasses: number;
  readonly embeddingDim: number;
  readonly alpha: number;
  /** Centers [C, D]; a non-trainable variable updated by the rule above. */
  readonly centers: tf.Variable;
  readonly trainableVariables: tf.Variable[] = [];
  training = true;

  constructor(opts: CenterLossOptions) {
    checkPositiveInteger('centerLoss', 'numClasses', opts.numClasses);
    checkPositiveInteger('centerLoss', 'embeddingDim', opts.embeddingDim);
    this.numClasses = opts.numClasses;
    this.embeddingDim = opts.embeddingDim;
    this.alpha = opts.alpha ?? 0.5;
    checkRange('centerLoss', 'alpha', this.alpha, 0, 1, true);
    checkHeadSize('centerLoss', 'the centers [numClasses, embeddingDim]', opts.numClasses, opts.embeddingDim);
    const init = opts.centers ? tf.tensor2d(opts.centers) : tf.zeros([opts.numClasses, opts.embeddingDim]);
    if (init.shape[0] !== opts.numClasses || init.shape[1] !== opts.embeddingDim) {
      throw new Error(
        `centerLoss: centers must have shape [${opts.numClasses}, ${opts.embeddingDim}], got [${init.shape.join(', ')}]`,
      );
    }
    this.centers = tf.variable(init, false);
    init.dispose();
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return { centers: this.centers };
  }

  config(): Record<string, unknown> {
    return { loss: 'center', numClasses: this.numClasses, embeddingDim: this.embeddingDim, alpha: this.alpha };
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, options: ComputeOptions = {}): tf.Scalar {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    // ½‖x − c‖² is in raw units: past ~1e18 it is not representable in float32.
    checkSquaredDistanceRange(this.name, embeddings, readSyncAvailable());
    const training = options.training ?? this.training;
    return tf.tidy(() => {
      const lab = readLabels(this.name, labels, embeddings.shape[0], this.numClasses);
      const oneHot = tf.oneHot(lab.tensor, this.numClasses).toFloat() as tf.Tensor2D;
      // c_{y_i} for each row; the centers are constants for the gradient.
      const cy = tf.matMul(oneHot, tf.clone(this.centers) as tf.Tensor2D);
      const diff = tf.sub(embeddings, cy);
      const loss = tf.mul(0.5, tf.mean(tf.sum(tf.square(diff), 1))) as tf.Scalar;
      if (training) {
        // Δc_j = Σ_{i: y_i=j} (c_j − x_i) / (1 + n_j)
        const counts = tf.sum(oneHot, 0); // n_j [C]
        const sumDiff = tf.matMul(oneHot, tf.neg(diff), true, false); // Σ (c_j − x_i) [C, D]
        const delta = tf.div(sumDiff, tf.expandDims(tf.add(counts, 1), 1));
        // A non-finite batch leaves every center as it was (see unlessNonFinite).
        const next = tf.sub(this.centers, tf.mul(delta, this.alpha));
        this.centers.assign(unlessNonFinite(next, this.centers, tf.sum(embeddings)) as tf.Tensor2D);
      }
      return loss;
    });
  }

  dispose(): void {
    this.centers.dispose();
  }
}

/** The option keys centerLoss() accepts (the compiler checks the list is complete). */
const CENTER_LOSS_OPTIONS = optionKeys<CenterLossOptions>()('numClasses', 'embeddingDim', 'alpha', 'centers');

/** Center loss ½‖x − c_y‖² with centers updated at rate α. Defaults: α = 0.5. */
export function centerLoss(opts: CenterLossOptions): CenterLoss {
  checkOptionKeys('centerLoss', opts, CENTER_LOSS_OPTIONS);
  return new CenterLoss(opts);
}

export interface SoftmaxCenterOptions extends HeadOptions {
  /** Weight λ of the center loss (the paper sweeps 1e-4 … 1e-1; default 0.01). */
  lambda?: number;
  /** Center update rate α in [0, 1] (default 0.5, the paper's). */
  alpha?: number;
}

/** Softmax + λ·center loss, as trained in Wen et al.: one head, one scalar. */
export class SoftmaxCenterLoss implements ClassifierHead {
  readonly name = 'softmax+center';
  readonly softmax: SoftmaxLoss;
  readonly center: CenterLoss;
  readonly lambda: number;

  constructor(opts: SoftmaxCenterOptions) {
    const { lambda, alpha, ...head } = resolveOptions(SOFTMAX_CENTER_SPEC, opts);
    this.lambda = lambda;
    this.softmax = new SoftmaxLoss(head);
    this.center = new CenterLoss({ numClasses: opts.numClasses, embeddingDim: opts.embeddingDim, alpha });
  }

  get numClasses(): number {
    return this.softmax.numClasses;
  }
  get embeddingDim(): number {
    return this.softmax.embeddingDim;
  }
  get W(): tf.Variable {
    return this.softmax.W;
  }
  get trainableVariables(): tf.Variable[] {
    return this.softmax.trainableVariables;
  }
  get training(): boolean {
    return this.center.training;
  }
  set training(v: boolean) {
    this.center.training = v;
    this.softmax.training = v;
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return { ...this.softmax.stateDict(), centers: this.center.centers };
  }

  config(): Record<string, unknown> {
    return specConfig(SOFTMAX_CENTER_SPEC, { lambda: this.lambda, alpha: this.center.alpha }, this);
  }

  /** The softmax part's logits. */
  scores(embeddings: tf.Tensor2D): tf.Tensor2D {
    return this.softmax.logits(embeddings);
  }

  logits(embeddings: tf.Tensor2D, labels?: LabelsLike): tf.Tensor2D {
    return this.softmax.logits(embeddings, labels);
  }

  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    return this.softmax.cosines(embeddings);
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, options: ComputeOptions = {}): tf.Scalar {
    return tf.tidy(
      () =>
        tf.add(
          this.softmax.compute(embeddings, labels),
          tf.mul(this.center.compute(embeddings, labels, options), this.lambda),
        ) as tf.Scalar,
    );
  }

  dispose(): void {
    this.softmax.dispose();
    this.center.dispose();
  }
}

/** Softmax loss plus λ·center loss (Wen et al. 2016). Defaults: λ = 0.01, α = 0.5. */
export function softmaxCenterLoss(opts: SoftmaxCenterOptions): SoftmaxCenterLoss {
  return new SoftmaxCenterLoss(opts);
}

/** The softmax+center loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const SOFTMAX_CENTER_SPEC = defineLoss({
  id: 'softmax+center',
  kind: 'head+centers',
  cls: SoftmaxCenterLoss,
  factory: softmaxCenterLoss,
  summary: 'softmax + λ·½‖x − c_y‖² (Wen et al.)',
  options: {
    lambda: { type: 'number', min: 0, default: 0.01, help: 'weight λ of the center term' },
    alpha: { type: 'number', min: 0, max: 1, default: 0.5, help: 'center update rate α' },
  },
});
