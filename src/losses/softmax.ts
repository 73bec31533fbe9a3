/**
 * Plain softmax loss: a linear classifier with bias, z = xᵀW + b, then cross-entropy.
 * The baseline every margin loss is compared with: it separates the training classes but
 * leaves features radially spread and without an angular margin.
 */
import * as tf from '../tf';
import { ClassifierHead, ComputeOptions, createWeights, HeadOptions, LabelsLike } from './head';
import { cosineMatrix, softmaxCrossEntropy } from './ops';
import { checkEmbeddings, readLabels, LossInputError } from './validate';
import { defineLoss, resolveOptions, specConfig } from './spec';

export interface SoftmaxOptions extends HeadOptions {
  /** Initial bias b [numClasses] (default zeros). */
  bias?: number[];
}

export class SoftmaxLoss implements ClassifierHead {
  readonly name = 'softmax';
  readonly numClasses: number;
  readonly embeddingDim: number;
  readonly W: tf.Variable;
  /** Bias b [C], trained with W. */
  readonly b: tf.Variable;
  training = true;

  constructor(opts: SoftmaxOptions) {
    resolveOptions(SOFTMAX_SPEC, opts);
    this.numClasses = opts.numClasses;
    this.embeddingDim = opts.embeddingDim;
    if (
      opts.bias !== undefined &&
      !(Array.isArray(opts.bias) && opts.bias.length === opts.numClasses && opts.bias.every(Number.isFinite))
    )
      throw new LossInputError(
        `${this.name}: bias must be an array of ${opts.numClasses} finite numbers (one per class), got ${Array.isArray(opts.bias) ? `${opts.bias.length} entries` : typeof opts.bias}`,
      );
    this.W = createWeights(this.name, opts, opts.numClasses);
    // The initial value is a tensor of its own: made inside tidy, so only the variable remains.
    this.b = tf.tidy(() => tf.variable(opts.bias ? tf.tensor1d(opts.bias) : tf.zeros([opts.numClasses]), true));
  }

  get trainableVariables(): tf.Variable[] {
    return [this.W, this.b];
  }

  step(): void {}

  stateDict(): Record<string, tf.Variable> {
    return { W: this.W, b: this.b };
  }

  config(): Record<string, unknown> {
    return specConfig(SOFTMAX_SPEC, this, this);
  }

  /** The logits: a plain softmax head has no angles to compare. */
  scores(embeddings: tf.Tensor2D): tf.Tensor2D {
    return this.logits(embeddings);
  }

  logits(embeddings: tf.Tensor2D, labels?: LabelsLike, _options?: ComputeOptions): tf.Tensor2D {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    if (labels !== undefined) readLabels(this.name, labels, embeddings.shape[0], this.numClasses).tensor.dispose();
    return tf.tidy(() => tf.add(tf.matMul(embeddings, this.W), this.b) as tf.Tensor2D);
  }

  cosines(embeddings: tf.Tensor2D): tf.Tensor2D {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    return tf.tidy(() => cosineMatrix(embeddings, this.W as tf.Tensor2D));
  }

  compute(embeddings: tf.Tensor2D, labels: LabelsLike, _options?: ComputeOptions): tf.Scalar {
    checkEmbeddings(this.name, embeddings, this.embeddingDim);
    return tf.tidy(() => {
      const lab = readLabels(this.name, labels, embeddings.shape[0], this.numClasses);
      const oneHot = tf.oneHot(lab.tensor, this.numClasses).toFloat() as tf.Tensor2D;
      return softmaxCrossEntropy(tf.add(tf.matMul(embeddings, this.W), this.b) as tf.Tensor2D, oneHot);
    });
  }

  dispose(): void {
    this.W.dispose();
    this.b.dispose();
  }
}

/** Softmax loss (linear classifier + bias + cross-entropy): the baseline. */
export function softmaxLoss(opts: SoftmaxOptions): SoftmaxLoss {
  return new SoftmaxLoss(opts);
}

/** The softmax loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const SOFTMAX_SPEC = defineLoss({
  id: 'softmax',
  kind: 'head',
  cls: SoftmaxLoss,
  factory: softmaxLoss,
  summary: 'linear classifier with bias + cross-entropy',
  options: {},
  extraKeys: ['bias'],
});
