/**
 * AdaFace (Kim et al., CVPR 2022): the margin adapts to image quality, using the feature norm
 * ‖z‖ as its proxy. With the norm standardized against running batch statistics,
 *   ẑ = clip(h·(‖z‖ − μ) / (σ + ε), −1, 1),
 * the target is  cos(θ_y − m·ẑ) − (m·ẑ + m).  A low-norm (poor) sample, ẑ = −1, gets the
 * angular, ArcFace-like margin cos(θ_y + m); an average one, ẑ = 0, the CosFace-like
 * cos θ_y − m; a high-norm (good) sample, ẑ = 1, a *negative* angular margin with a larger
 * additive one, cos(θ_y − m) − 2m. Why that way round: the gradient scaling term ∂f/∂cos θ_y is
 * sin(θ_y + m)/sin θ_y for the angular margin, which falls as θ_y grows, so a poor image's easy
 * samples get the emphasis and its hard (likely unrecognizable) ones less; for the negative
 * angular margin it is sin(θ_y − m)/sin θ_y, which rises with θ_y, so a good image's hard but
 * recognizable samples get the emphasis (notebook 09 prints both). Follows the authors' code: ‖z‖ clipped to
 * [0.001, 100] and treated as a constant; μ, σ updated first in training mode with momentum
 * 0.01 (μ₀ = 20, σ₀ = 100, σ the unbiased batch std, 0 for a batch of one); θ + g clipped to
 * [ε, π − ε]; cos θ clipped to [−1 + ε, 1 − ε].
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions, TargetContext } from './head';

/** AdaFace's target context: for curves, a fixed norm score ẑ in [−1, 1] instead of one computed from the embeddings. */
export interface AdaFaceContext extends TargetContext {
  marginScaler?: number;
}
import { safeAcos, stopGradient, unlessNonFinite } from './ops';
import { checkOption, defineLoss, scaleOption, angularMarginOption, resolveOptions, LossSpec } from './spec';

export interface AdaFaceOptions extends HeadOptions {
  /** Scale s (paper: 64). */
  s?: number;
  /** Margin m (paper: 0.4). */
  m?: number;
  /** Concentration h of the norm standardization (paper: 0.333). */
  h?: number;
  /** Momentum of the running norm statistics (paper code: 0.01). */
  alpha?: number;
  /** Initial running mean / std of the norms, ≥ 0 (paper code: 20 / 100; a restored run passes its own). */
  initialMean?: number;
  initialStd?: number;
}

export const ADAFACE_EPS = 1e-3;

export class AdaFace extends CosineHead<AdaFaceContext> {
  readonly name = 'adaface';
  readonly spec: LossSpec = ADAFACE_SPEC;
  readonly s: number;
  readonly m: number;
  readonly h: number;
  readonly alpha: number;
  readonly runningMean: tf.Variable;
  readonly runningStd: tf.Variable;

  constructor(opts: AdaFaceOptions) {
    const o = resolveOptions(ADAFACE_SPEC, opts);
    const [mean, std] = [o.initialMean ?? 20, o.initialStd ?? 100];
    const norm = { type: 'number', min: 0, help: 'a norm statistic' } as const;
    checkOption(ADAFACE_SPEC.id, 'initialMean', norm, mean);
    checkOption(ADAFACE_SPEC.id, 'initialStd', norm, std);
    super(opts, 1, ADAFACE_SPEC.id);
    this.s = o.s;
    this.m = o.m;
    this.h = o.h;
    this.alpha = o.alpha;
    this.runningMean = tf.tidy(() => tf.variable(tf.scalar(mean), false));
    this.runningStd = tf.tidy(() => tf.variable(tf.scalar(std), false));
  }

  override stateDict(): Record<string, tf.Variable> {
    return { W: this.W, runningMean: this.runningMean, runningStd: this.runningStd };
  }

  /** Running mean and std of the feature norms. */
  get normStats(): { mean: number; std: number } {
    return { mean: this.runningMean.dataSync()[0], std: this.runningStd.dataSync()[0] };
  }

  /** ‖z‖ clipped to [0.001, 100], as a constant (no gradient), shape [N]. */
  private safeNorms(embeddings: tf.Tensor2D): tf.Tensor1D {
    // The authors detach the norms: they steer the margin but receive no gradient.
    const norms = tf.sqrt(tf.sum(tf.square(stopGradient(embeddings)), 1));
    return tf.clipByValue(norms, 0.001, 100) as tf.Tensor1D;
  }

  protected override updateState(_cosY: tf.Tensor1D, embeddings: tf.Tensor2D): void {
    const norms = this.safeNorms(embeddings);
    const n = norms.shape[0];
    const mean = tf.mean(norms);
    const std = n > 1 ? tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(norms, mean))), n - 1)) : tf.scalar(0);
    // A non-finite batch (its norms clip to finite values, so the embeddings themselves are
    // probed) leaves the statistics as they were (see unlessNonFinite).
    const probe = tf.sum(embeddings);
    const nextMean = tf.add(tf.mul(mean, this.alpha), tf.mul(this.runningMean, 1 - this.alpha));
    const nextStd = tf.add(tf.mul(std, this.alpha), tf.mul(this.runningStd, 1 - this.alpha));
    this.runningMean.assign(unlessNonFinite(nextMean, this.runningMean, probe) as tf.Scalar);
    this.runningStd.assign(unlessNonFinite(nextStd, this.runningStd, probe) as tf.Scalar);
  }

  /** ẑ = clip(h·(‖z‖ − μ)/(σ + ε), −1, 1) per sample. */
  marginScaler(embeddings: tf.Tensor2D): tf.Tensor1D {
    return tf.tidy(() => {
      const z = tf.div(tf.sub(this.safeNorms(embeddings), this.runningMean), tf.add(this.runningStd, ADAFACE_EPS));
      return tf.clipByValue(tf.mul(z, this.h), -1, 1) as tf.Tensor1D;
    });
  }

  protected target(cosY: tf.Tensor1D, ctx: AdaFaceContext): tf.Tensor1D {
    const scaler =
      ctx.marginScaler !== undefined ? tf.fill(cosY.shape, ctx.marginScaler) : this.marginScaler(ctx.embeddings);
    const c = tf.clipByValue(cosY, -1 + ADAFACE_EPS, 1 - ADAFACE_EPS);
    const gAngle = tf.mul(scaler, -this.m);
    const gAdd = tf.add(tf.mul(scaler, this.m), this.m);
    const theta = tf.clipByValue(tf.add(safeAcos(c), gAngle), ADAFACE_EPS, Math.PI - ADAFACE_EPS);
    return tf.sub(tf.cos(theta), gAdd) as tf.Tensor1D;
  }

  protected override negatives(cos: tf.Tensor2D): tf.Tensor2D {
    // The authors clip the whole cosine matrix, so non-target logits see the clip too.
    return tf.clipByValue(cos, -1 + ADAFACE_EPS, 1 - ADAFACE_EPS) as tf.Tensor2D;
  }

  override stats(): Record<string, number> {
    return { normMean: this.normStats.mean };
  }

  override dispose(): void {
    super.dispose();
    this.runningMean.dispose();
    this.runningStd.dispose();
  }
}

/** AdaFace: norm-adaptive margin cos(θ_y − m·ẑ) − m·(1 + ẑ). Defaults: s = 64, m = 0.4, h = 0.333. */
export function adaFace(opts: AdaFaceOptions): AdaFace {
  return new AdaFace(opts);
}

/** The adaface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const ADAFACE_SPEC = defineLoss({
  id: 'adaface',
  kind: 'head',
  cls: AdaFace,
  factory: adaFace,
  summary: 'margin adapted to the feature norm (image quality)',
  extraKeys: ['initialMean', 'initialStd'],
  options: {
    s: scaleOption(64),
    m: angularMarginOption(0.4, 'margin m'),
    h: {
      type: 'number',
      min: 0,
      exclusiveMin: true,
      max: 1,
      default: 0.333,
      help: 'concentration h of the norm score',
      why: 'h scales the standardized norm into [−1, 1]; the paper uses 0.333',
    },
    alpha: { type: 'number', min: 0, max: 1, default: 0.01, help: 'momentum of the running norm statistics' },
  },
});
