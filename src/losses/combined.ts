/**
 * Combined margin (ArcFace paper, insightface): target s·(cos(m1·θ_y + m2) − m3).
 * (m1, m2, m3) = (m, 0, 0) is normalized SphereFace, (1, m, 0) ArcFace, (1, 0, m) CosFace;
 * the paper also tries mixtures such as (1, 0.3, 0.2) and (0.9, 0.4, 0.15). See margin.ts for
 * how the target is kept monotonic once m1·θ + m2 passes π.
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions, MarginWarmupArgs } from './head';
import { combinedMarginTarget } from './margin';
import { defineLoss, scaleOption, angularMarginOption, MARGIN_WARMUP_OPTION, resolveOptions, LossSpec } from './spec';

export interface CombinedMarginOptions extends HeadOptions, MarginWarmupArgs {
  /** Scale s (default 64). */
  s?: number;
  /** Multiplicative angular margin m1 > 0 (default 1). */
  m1?: number;
  /** Additive angular margin m2 in [0, π/2) (default 0.3). */
  m2?: number;
  /** Additive cosine margin m3 ≥ 0 (default 0.2). */
  m3?: number;
}

export class CombinedMargin extends CosineHead {
  readonly name = 'combined';
  readonly spec: LossSpec = COMBINED_SPEC;
  readonly s: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;

  constructor(opts: CombinedMarginOptions) {
    const o = resolveOptions(COMBINED_SPEC, opts);
    super(opts, 1, COMBINED_SPEC.id);
    this.s = o.s;
    this.m1 = o.m1;
    this.m2 = o.m2;
    this.m3 = o.m3;
    this.initMarginWarmup(COMBINED_SPEC.id, o.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    // A warm-up moves every margin from its no-margin value (m1 = 1, m2 = m3 = 0) to its own.
    const f = this.marginFactor;
    return combinedMarginTarget(cosY, 1 + (this.m1 - 1) * f, this.m2 * f, this.m3 * f) as tf.Tensor1D;
  }
}

/** Combined margin s·(cos(m1·θ_y + m2) − m3). Defaults: s = 64, (m1, m2, m3) = (1, 0.3, 0.2). */
export function combinedMargin(opts: CombinedMarginOptions): CombinedMargin {
  return new CombinedMargin(opts);
}

/** The classic losses as combined-margin settings (m1, m2, m3). */
export const marginPresets = {
  sphereFace: (m = 4) => ({ m1: m, m2: 0, m3: 0 }),
  arcFace: (m = 0.5) => ({ m1: 1, m2: m, m3: 0 }),
  cosFace: (m = 0.35) => ({ m1: 1, m2: 0, m3: m }),
} as const;

/** The combined loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const COMBINED_SPEC = defineLoss({
  id: 'combined',
  kind: 'head',
  cls: CombinedMargin,
  factory: combinedMargin,
  summary: 's·(cos(m1·θ_y + m2) − m3)',
  options: {
    s: scaleOption(64),
    m1: { type: 'number', min: 0, exclusiveMin: true, default: 1, help: 'multiplicative angular margin m1' },
    m2: angularMarginOption(0.3, 'additive angular margin m2 in radians'),
    m3: {
      type: 'number',
      min: 0,
      max: 2,
      default: 0.2,
      help: 'additive cosine margin m3',
      why: 'a cosine margin: 0 is none, and above 2 every target is below every other logit',
    },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
