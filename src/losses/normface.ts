/**
 * NormFace (Wang et al., ACM MM 2017): normalize features and class weights, so the logits are
 * s·cos θ_j for every class. No margin; s sets how peaked the softmax can get on the sphere.
 */
import * as tf from '../tf';
import { CosineHead, HeadOptions } from './head';
import { defineLoss, scaleOption, resolveOptions, LossSpec } from './spec';

export interface NormFaceOptions extends HeadOptions {
  /** Scale s (default 16: enough for the softmax to saturate with few classes). */
  s?: number;
}

export class NormFace extends CosineHead {
  readonly name = 'normface';
  readonly spec: LossSpec = NORMFACE_SPEC;
  readonly s: number;

  constructor(opts: NormFaceOptions) {
    const o = resolveOptions(NORMFACE_SPEC, opts);
    super(opts, 1, NORMFACE_SPEC.id);
    this.s = o.s;
  }

  protected target(cosY: tf.Tensor1D): tf.Tensor1D {
    return cosY;
  }
}

/** NormFace: logits s·cos θ_j, no margin. Defaults: s = 16. */
export function normFace(opts: NormFaceOptions): NormFace {
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
