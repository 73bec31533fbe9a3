/**
 * ArcFace (Deng et al., CVPR 2019) — an additive *angular* margin: target logit s·cos(θ_y + m).
 * Once θ_y + m > π the cosine would rise again (rewarding a worse angle), so there the target is
 * cos θ_y − m·sin m, as in insightface. `easyMargin` applies the margin only where θ_y < π/2.
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions, MarginWarmupArgs } from './head';
import { angularMarginTarget } from './margin';
import { defineLoss, scaleOption, angularMarginOption, MARGIN_WARMUP_OPTION, resolveOptions, LossSpec } from './spec';

export interface ArcFaceOptions extends HeadOptions, MarginWarmupArgs {
  /** Scale s (paper: 64). */
  s?: number;
  /** Angular margin m in radians, in [0, π/2) (paper: 0.5). */
  m?: number;
  /**
   * Margin only for θ_y < π/2, plain cos θ_y elsewhere (default false). The target is then not
   * monotonic: it jumps up from −sin m to 0 at θ = π/2.
   */
  easyMargin?: boolean;
}

export class ArcFace extends CosineHead {
  readonly name: string;
  readonly spec: LossSpec = ARCFACE_SPEC;
  readonly s: number;
  readonly m: number;
  readonly easyMargin: boolean;

  /** `subCenters` and `id` are for SubCenterArcFace, which checks its own options first. */
  constructor(opts: ArcFaceOptions, subCenters = 1, id = 'arcface') {
    const o = resolveOptions(ARCFACE_SPEC, opts, id);
    super(opts, subCenters, id);
    this.name = id;
    this.s = o.s;
    this.m = o.m;
    this.easyMargin = o.easyMargin;
    this.initMarginWarmup(id, o.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return angularMarginTarget(cosY, this.m * this.marginFactor, this.easyMargin) as tf.Tensor1D;
  }
}

/** ArcFace: s·cos(θ_y + m) (fallback cos θ_y − m·sin m past π). Defaults: s = 64, m = 0.5. */
export function arcFace(opts: ArcFaceOptions): ArcFace {
  return new ArcFace(opts);
}

/** The arcface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const ARCFACE_SPEC = defineLoss({
  id: 'arcface',
  kind: 'head',
  cls: ArcFace,
  factory: arcFace,
  summary: 's·cos(θ_y + m)',
  options: {
    s: scaleOption(64),
    m: angularMarginOption(0.5),
    'easy-margin': { type: 'boolean', path: ['easyMargin'], default: false, help: 'margin only where θ_y < π/2' },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
