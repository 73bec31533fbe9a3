/**
 * CosFace / LMCL (Wang et al., CVPR 2018) — an additive *cosine* margin:
 * target logit s·(cos θ_y − m), other logits s·cos θ_j (the margin is on the target only).
 * AM-Softmax (Wang et al., 2018) is the same formula (paper defaults s = 30, m = 0.35).
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions, MarginWarmupArgs } from './head';
import { cosineMarginTarget } from './margin';
import { defineLoss, scaleOption, MARGIN_WARMUP_OPTION, resolveOptions, LossSpec } from './spec';

export interface CosFaceOptions extends HeadOptions, MarginWarmupArgs {
  /** Scale s (paper: 64). */
  s?: number;
  /** Cosine margin m in [0, 2) (paper: 0.35). */
  m?: number;
}

export class CosFace extends CosineHead {
  readonly name = 'cosface';
  readonly spec: LossSpec = COSFACE_SPEC;
  readonly s: number;
  readonly m: number;

  constructor(opts: CosFaceOptions) {
    const o = resolveOptions(COSFACE_SPEC, opts);
    super(opts, 1, COSFACE_SPEC.id);
    this.s = o.s;
    this.m = o.m;
    this.initMarginWarmup(COSFACE_SPEC.id, o.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return cosineMarginTarget(cosY, this.m * this.marginFactor) as tf.Tensor1D;
  }
}

/** CosFace (LMCL): s·(cos θ_y − m). Defaults: s = 64, m = 0.35. */
export function cosFace(opts: CosFaceOptions): CosFace {
  return new CosFace(opts);
}

/** The cosface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const COSFACE_SPEC = defineLoss({
  id: 'cosface',
  kind: 'head',
  cls: CosFace,
  factory: cosFace,
  summary: 's·(cos θ_y − m)',
  options: {
    s: scaleOption(64),
    m: {
      type: 'number',
      min: 0,
      max: 2,
      exclusiveMax: true,
      default: 0.35,
      help: 'additive cosine margin m',
      why: 'a cosine margin of 2 or more makes every target impossible',
    },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
