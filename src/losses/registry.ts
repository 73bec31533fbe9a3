/**
 * Losses by name, for the CLI and for checkpoints (which store a loss's `config()` and rebuild
 * it from there).
 */
import { EmbeddingLoss } from './head';
import { softmaxLoss } from './softmax';
import { normFace } from './normface';
import { sphereFace } from './sphereface';
import { cosFace } from './cosface';
import { arcFace } from './arcface';
import { combinedMargin } from './combined';
import { curricularFace } from './curricularface';
import { subCenterArcFace } from './subcenter-arcface';
import { adaFace } from './adaface';
import { contrastiveLoss } from './contrastive';
import { tripletLoss } from './triplet';
import { softmaxCenterLoss } from './center';

export const LOSS_NAMES = [
  'softmax', 'normface', 'sphereface', 'cosface', 'arcface', 'combined', 'curricularface',
  'subcenter-arcface', 'adaface', 'contrastive', 'triplet', 'softmax+center',
] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** Losses that need P×K batches (positives inside every batch) rather than shuffled ones. */
export const PAIR_LOSSES: readonly LossName[] = ['contrastive', 'triplet'];

export interface LossParams {
  numClasses: number;
  embeddingDim: number;
  seed?: number;
  /** Any hyperparameter of the chosen loss, named as in its options (s, m, m1, K, margin, miner, ...). */
  [key: string]: unknown;
}

/** Builds a loss by name. Unknown names throw, listing the valid ones. */
export function createLoss(name: string, params: LossParams): EmbeddingLoss {
  const p = params as never;
  switch (name as LossName) {
    case 'softmax': return softmaxLoss(p);
    case 'normface': return normFace(p);
    case 'sphereface': return sphereFace(p);
    case 'cosface': return cosFace(p);
    case 'arcface': return arcFace(p);
    case 'combined': return combinedMargin(p);
    case 'curricularface': return curricularFace(p);
    case 'subcenter-arcface': return subCenterArcFace(p);
    case 'adaface': return adaFace(p);
    case 'contrastive': return contrastiveLoss(p);
    case 'triplet': return tripletLoss(p);
    case 'softmax+center': return softmaxCenterLoss(p);
    default:
      throw new Error(`unknown loss ${JSON.stringify(name)}; expected one of ${LOSS_NAMES.join(', ')}`);
  }
}
