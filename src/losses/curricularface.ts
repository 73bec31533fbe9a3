/**
 * CurricularFace (Huang et al., CVPR 2020): the target is ArcFace's cos(θ_y + m) (with its
 * fallback); a negative that is *harder* than the modified target, cos θ_j > cos(θ_y + m), is
 * re-weighted to cos θ_j·(t + cos θ_j). Early in training t ≈ 0 shrinks hard negatives (easy
 * curriculum); as t grows toward the mean target cosine they are emphasized.
 *
 * t is not trained: in training mode each batch first updates
 * t ← 0.01·mean(cos θ_y) + 0.99·t (t₀ = 0, the authors' code), then uses it as a constant.
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions, NegativesContext, MarginWarmupArgs } from './head';
import { angularMarginTarget } from './margin';
import { constantMask, select, stopGradient, unlessNonFinite } from './ops';
import {
  checkOption,
  defineLoss,
  scaleOption,
  angularMarginOption,
  MARGIN_WARMUP_OPTION,
  resolveOptions,
  LossSpec,
} from './spec';

export interface CurricularFaceOptions extends HeadOptions, MarginWarmupArgs {
  /** Scale s (paper: 64). */
  s?: number;
  /** Angular margin m (paper: 0.5). */
  m?: number;
  /** Momentum of the running t (authors' code: 0.01). */
  alpha?: number;
  /** Initial t, in [−1, 1] (default 0; a restored run passes its running t). */
  t?: number;
}

export class CurricularFace extends CosineHead {
  readonly name = 'curricularface';
  readonly spec: LossSpec = CURRICULARFACE_SPEC;
  readonly s: number;
  readonly m: number;
  readonly alpha: number;
  /** Running t (a non-trainable variable). */
  readonly tVar: tf.Variable;

  constructor(opts: CurricularFaceOptions) {
    const o = resolveOptions(CURRICULARFACE_SPEC, opts);
    const t = o.t ?? 0;
    checkOption(CURRICULARFACE_SPEC.id, 't', { type: 'number', min: -1, max: 1, help: 'initial t' }, t);
    super(opts, 1, CURRICULARFACE_SPEC.id);
    this.s = o.s;
    this.m = o.m;
    this.alpha = o.alpha;
    this.tVar = tf.tidy(() => tf.variable(tf.scalar(t), false));
    this.initMarginWarmup(CURRICULARFACE_SPEC.id, o.marginWarmup);
  }

  /** Current t (for plots and logs). */
  get t(): number {
    return this.tVar.dataSync()[0];
  }

  override stateDict(): Record<string, tf.Variable> {
    return { W: this.W, t: this.tVar };
  }

  protected override updateState(cosY: tf.Tensor1D): void {
    // No gradient flows into t: it is read back as a constant below.
    // A non-finite batch leaves t as it was (see unlessNonFinite).
    const mean = tf.mean(cosY);
    const next = tf.add(tf.mul(mean, this.alpha), tf.mul(this.tVar, 1 - this.alpha));
    this.tVar.assign(unlessNonFinite(next, this.tVar, mean) as tf.Scalar);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return angularMarginTarget(cosY, this.m * this.marginFactor) as tf.Tensor1D;
  }

  protected override negatives(cos: tf.Tensor2D, { targetY, oneHot }: NegativesContext): tf.Tensor2D {
    return modulateHardNegatives(cos, targetY, oneHot, this.tVar);
  }

  override stats(): Record<string, number> {
    return { t: this.t, ...super.stats() };
  }

  /** Negative modulation curve c ↦ c·(t + c) at a given t (for plots). */
  static modulation(cos: number, t: number): number {
    return cos * (t + cos);
  }

  override dispose(): void {
    super.dispose();
    this.tVar.dispose();
  }
}

/** cos θ_j > target_y  →  cos θ_j·(t + cos θ_j); other entries unchanged. */
export function modulateHardNegatives(
  cos: tf.Tensor2D,
  targetY: tf.Tensor1D,
  oneHot: tf.Tensor2D,
  t: tf.Tensor,
): tf.Tensor2D {
  const hard = constantMask(() => tf.logicalAnd(tf.greater(cos, tf.expandDims(targetY, 1)), tf.equal(oneHot, 0)), cos);
  const tConst = stopGradient(t); // t steers the curriculum but is not trained
  return select(hard, tf.mul(cos, tf.add(tConst, cos)), cos) as tf.Tensor2D;
}

/** CurricularFace: ArcFace target, hard negatives cos θ_j·(t + cos θ_j). Defaults: s = 64, m = 0.5. */
export function curricularFace(opts: CurricularFaceOptions): CurricularFace {
  return new CurricularFace(opts);
}

/** The curricularface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const CURRICULARFACE_SPEC = defineLoss({
  id: 'curricularface',
  kind: 'head',
  cls: CurricularFace,
  factory: curricularFace,
  summary: 'ArcFace target; hard negatives scaled by (t + cos θ_j)',
  extraKeys: ['t'],
  options: {
    s: scaleOption(64),
    m: angularMarginOption(0.5),
    alpha: { type: 'number', min: 0, max: 1, default: 0.01, help: 'momentum of t: t ← α·mean cos θ_y + (1 − α)·t' },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
