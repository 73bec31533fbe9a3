/**
 * ArcFace (Deng et al., CVPR 2019) — an additive *angular* margin: target logit s·cos(θ_y + m).
 * Once θ_y + m > π the cosine would rise again (rewarding a worse angle), so there the target is
 * cos θ_y − m·sin m, as in insightface. `easyMargin` applies the margin only where θ_y < π/2.
 */
import * as tf from '../tf';
import { checkScale, CosineHead, HeadOptions, HEAD_OPTION_KEYS, MarginWarmupArgs } from './head';
import { angularMarginTarget } from './margin';
import { checkRange, checkOptionKeys, optionKeys } from './validate';
import { defineLoss, scaleOption, angularMarginOption, MARGIN_WARMUP_OPTION } from './spec';

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

/** An additive angular margin must lie in [0, π/2). */
export function checkAngularMargin(loss: string, m: number, name = 'm'): void {
  // A margin from 2 to 90 is most likely in degrees (pytorch-metric-learning's ArcFaceLoss takes
  // degrees: its default 28.6 is 0.5 rad); just above π/2 it is a radian value too large.
  const degrees = typeof m === 'number' && m >= 2 && m < 90;
  checkRange(
    loss,
    name,
    m,
    0,
    Math.PI / 2,
    false,
    degrees
      ? `${name} is in radians (0.5 rad = 28.6°); ${m}° would be ${((m * Math.PI) / 180).toFixed(4)} rad`
      : 'in radians; an angular margin of π/2 or more leaves no room between classes',
  );
}

export class ArcFace extends CosineHead {
  readonly name: string;
  readonly s: number;
  readonly m: number;
  readonly easyMargin: boolean;

  constructor(opts: ArcFaceOptions, subCenters = 1, name = 'arcFace') {
    const s = opts.s ?? 64;
    const m = opts.m ?? 0.5;
    checkScale(name, s);
    checkAngularMargin(name, m);
    super(opts, subCenters, name);
    this.name = name;
    this.s = s;
    this.m = m;
    this.easyMargin = opts.easyMargin ?? false;
    this.initMarginWarmup(name, opts.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return angularMarginTarget(cosY, this.m * this.marginFactor, this.easyMargin) as tf.Tensor1D;
  }

  config(): Record<string, unknown> {
    return {
      loss: 'arcface',
      numClasses: this.numClasses,
      embeddingDim: this.embeddingDim,
      s: this.s,
      m: this.m,
      easyMargin: this.easyMargin,
      ...this.warmupConfig(),
    };
  }
}

/** The option keys arcFace() accepts (the compiler checks the list is complete). */
const ARC_FACE_OPTIONS = optionKeys<ArcFaceOptions>()(...HEAD_OPTION_KEYS, 's', 'm', 'easyMargin', 'marginWarmup');

/** ArcFace: s·cos(θ_y + m) (fallback cos θ_y − m·sin m past π). Defaults: s = 64, m = 0.5. */
export function arcFace(opts: ArcFaceOptions): ArcFace {
  checkOptionKeys('arcFace', opts, ARC_FACE_OPTIONS);
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
