/**
 * CosFace / LMCL (Wang et al., CVPR 2018) — an additive *cosine* margin:
 * target logit s·(cos θ_y − m), other logits s·cos θ_j (the margin is on the target only).
 * AM-Softmax (Wang et al., 2018) is the same formula (paper defaults s = 30, m = 0.35).
 */
import * as tf from '../tf';
import { checkScale, CosineHead, HeadOptions, HEAD_OPTION_KEYS, MarginWarmupArgs } from './head';
import { cosineMarginTarget } from './margin';
import { checkRange, checkOptionKeys, optionKeys } from './validate';
import { defineLoss, scaleOption, MARGIN_WARMUP_OPTION } from './spec';

export interface CosFaceOptions extends HeadOptions, MarginWarmupArgs {
  /** Scale s (paper: 64). */
  s?: number;
  /** Cosine margin m in [0, 2) (paper: 0.35). */
  m?: number;
}

export class CosFace extends CosineHead {
  readonly name = 'cosFace';
  readonly s: number;
  readonly m: number;

  constructor(opts: CosFaceOptions) {
    const s = opts.s ?? 64;
    const m = opts.m ?? 0.35;
    checkScale('cosFace', s);
    checkRange('cosFace', 'm', m, 0, 2, false, 'a cosine margin of 2 or more makes every target impossible');
    super(opts, 1, 'cosFace');
    this.s = s;
    this.m = m;
    this.initMarginWarmup('cosFace', opts.marginWarmup);
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return cosineMarginTarget(cosY, this.m * this.marginFactor) as tf.Tensor1D;
  }

  config(): Record<string, unknown> {
    return {
      loss: 'cosface',
      numClasses: this.numClasses,
      embeddingDim: this.embeddingDim,
      s: this.s,
      m: this.m,
      ...this.warmupConfig(),
    };
  }
}

/** The option keys cosFace() accepts (the compiler checks the list is complete). */
const COS_FACE_OPTIONS = optionKeys<CosFaceOptions>()(...HEAD_OPTION_KEYS, 's', 'm', 'marginWarmup');

/** CosFace (LMCL): s·(cos θ_y − m). Defaults: s = 64, m = 0.35. */
export function cosFace(opts: CosFaceOptions): CosFace {
  checkOptionKeys('cosFace', opts, COS_FACE_OPTIONS);
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
    m: { type: 'number', min: 0, max: 2, exclusiveMax: true, default: 0.35, help: 'additive cosine margin m' },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
