/**
 * Sub-center ArcFace (Deng et al., ECCV 2020): K weight vectors per class; an embedding's cosine
 * to a class is the max over that class's sub-centers, then ArcFace as usual. Noisy samples can
 * gather at a non-dominant sub-center instead of pulling the main one. W is [D, C·K], class c's
 * sub-centers in columns c·K … c·K + K − 1.
 */
import * as tf from '../tf';
import { ArcFace, ArcFaceOptions } from './arcface';
import { cosineMatrix } from './ops';
import { tidyRead } from '../util/read';
import { defineLoss, scaleOption, angularMarginOption, MARGIN_WARMUP_OPTION, resolveOptions, LossSpec } from './spec';

/** The most sub-centers per class subCenterArcFace takes (the command line's bound too). */
export const SUBCENTER_MAX_K = 64;

export interface SubCenterArcFaceOptions extends ArcFaceOptions {
  /** Sub-centers per class K (paper: 3). */
  K?: number;
}

export class SubCenterArcFace extends ArcFace {
  override readonly spec: LossSpec = SUBCENTER_ARCFACE_SPEC;
  readonly K: number;

  constructor(opts: SubCenterArcFaceOptions) {
    const { K, ...arc } = resolveOptions(SUBCENTER_ARCFACE_SPEC, opts);
    super(arc, K, SUBCENTER_ARCFACE_SPEC.id);
    this.K = K;
  }

  /** For each embedding, the column (class·K + k) of its most similar sub-center. */
  nearestSubCenters(embeddings: tf.Tensor2D | number[][]): number[] {
    return Array.from(
      tidyRead(() => {
        const e = embeddings instanceof tf.Tensor ? embeddings : tf.tensor2d(embeddings);
        return tf.argMax(cosineMatrix(e, this.W as tf.Tensor2D), 1);
      }),
    );
  }
}

/** Sub-center ArcFace: max over K sub-centers per class, then ArcFace. Defaults: K = 3, s = 64, m = 0.5. */
export function subCenterArcFace(opts: SubCenterArcFaceOptions): SubCenterArcFace {
  return new SubCenterArcFace(opts);
}

/** The subcenter-arcface loss's declaration: options, ranges, defaults and help (src/losses/spec.ts). */
export const SUBCENTER_ARCFACE_SPEC = defineLoss({
  id: 'subcenter-arcface',
  kind: 'head',
  cls: SubCenterArcFace,
  factory: subCenterArcFace,
  summary: 'ArcFace over the nearest of K sub-centers per class',
  options: {
    s: scaleOption(64),
    m: angularMarginOption(0.5),
    'easy-margin': { type: 'boolean', path: ['easyMargin'], default: false, help: 'margin only where θ_y < π/2' },
    K: {
      type: 'integer',
      min: 1,
      max: SUBCENTER_MAX_K,
      default: 3,
      help: 'sub-centers per class',
      why: 'the paper uses 3',
    },
    'margin-warmup': MARGIN_WARMUP_OPTION,
  },
});
