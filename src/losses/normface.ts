/**
 * NormFace (Wang et al., ACM MM 2017): normalize features and class weights, so the logits are
 * s·cos θ_j for every class. No margin; s sets how peaked the softmax can get on the sphere.
 */
import * as tf from '../tf';
import { checkScale, CosineHead, HeadOptions, HEAD_OPTION_KEYS } from './head';
import { checkOptionKeys, optionKeys } from './validate';
import { defineLoss, scaleOption } from './spec';

export interface NormFaceOptions extends HeadOptions {
  /** Scale s (default 16: enough for the softmax to saturate with few classes). */
  s?: number;
}

export class NormFace extends CosineHead {
  readonly name = 'normFace';
  readonly s: number;

  constructor(opts: NormFaceOptions) {
    const s = opts.s ?? 16;
    checkScale('normFace', s);
    super(opts, 1, 'normFace');
    this.s = s;
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return cosY;
  }

  config(): Record<string, unknown> {
    return { loss: 'normface', numClasses: this.numClasses, embeddingDim: this.embeddingDim, s: this.s };
  }
}

/** The option keys normFace() accepts (the compiler checks the list is complete). */
const NORM_FACE_OPTIONS = optionKeys<NormFaceOptions>()(...HEAD_OPTION_KEYS, 's');

/** NormFace: logits s·cos θ_j, no margin. Defaults: s = 16. */
export function normFace(opts: NormFaceOptions): NormFace {
  checkOptionKeys('normFace', opts, NORM_FACE_OPTIONS);
  return new NormFace(opts);
}

/** The normface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const NORMFACE_SPEC = defineLoss({
  id: 'normface',
  kind: 'head',
  cls: NormFace,
  factory: normFace,
  summary: 's·cos θ_j for every class (normalized softmax)',
  options: { s: scaleOption(16) },
});
