/**
 * Combined margin (ArcFace paper, insightface): target s·(cos(m1·θ_y + m2) − m3).
 * (m1, m2, m3) = (m, 0, 0) is normalized SphereFace, (1, m, 0) ArcFace, (1, 0, m) CosFace;
 * the paper also tries mixtures such as (1, 0.3, 0.2) and (0.9, 0.4, 0.15). See margin.ts for
 * how the target is kept monotonic once m1·θ + m2 passes π.
 */
import * as tf from '../tf';
import { checkScale, CosineHead, HeadOptions, HEAD_OPTION_KEYS, MarginWarmupArgs } from './head';
import { combinedMarginTarget } from './margin';
import { checkPositive, checkRange, checkOptionKeys, optionKeys } from './validate';
import { checkAngularMargin } from './arcface';
import { defineLoss, scaleOption, angularMarginOption, MARGIN_WARMUP_OPTION } from './spec';

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
  readonly name = 'combinedMargin';
  readonly s: number;
  readonly m1: number;
  readonly m2: number;
  readonly m3: number;

  constructor(opts: CombinedMarginOptions) {
    const s = opts.s ?? 64;
    const m1 = opts.m1 ?? 1;
    const m2 = opts.m2 ?? 0.3;
    const m3 = opts.m3 ?? 0.2;
    checkScale('combinedMargin', s);
    checkPositive('combinedMargin', 'm1', m1);
    checkAngularMargin('combinedMargin', m2, 'm2');
    checkRange(
      'combinedMargin',
      'm3',
      m3,
      0,
      2,
      true,
      'a cosine margin: 0 is none, and above 2 every target is below every other logit',
    );
    super(opts, 1, 'combinedMargin');
    this.s = s;
    this.m1 = m1;
    this.m2 = m2;
    this.m3 = m3;
    this.initMarginWarmup('combinedMargin', opts.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    // A warm-up moves every margin from its no-margin value (m1 = 1, m2 = m3 = 0) to its own.
    const f = this.marginFactor;
    return combinedMarginTarget(cosY, 1 + (this.m1 - 1) * f, this.m2 * f, this.m3 * f) as tf.Tensor1D;
  }

  config(): Record<string, unknown> {
    return {
      loss: 'combined',
      numClasses: this.numClasses,
      embeddingDim: this.embeddingDim,
      s: this.s,
      m1: this.m1,
      m2: this.m2,
      m3: this.m3,
      ...this.warmupConfig(),
    };
  }
}

/** The option keys combinedMargin() accepts (the compiler checks the list is complete). */
const COMBINED_MARGIN_OPTIONS = optionKeys<CombinedMarginOptions>()(
  ...HEAD_OPTION_KEYS,
  's',
  'm1',
  'm2',
  'm3',
  'marginWarmup',
);

/** Combined margin s·(cos(m1·θ_y + m2) − m3). Defaults: s = 64, (m1, m2, m3) = (1, 0.3, 0.2). */
export function combinedMargin(opts: CombinedMarginOptions): CombinedMargin {
  checkOptionKeys('combinedMargin', opts, COMBINED_MARGIN_OPTIONS);
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
    m3: { type: 'number', min: 0, max: 2, default: 0.2, help: 'additive cosine margin m3' },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
