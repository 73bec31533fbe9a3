/**
 * The loss library. Every loss follows one calling convention:
 *   const loss = arcFace({ numClasses: 10, embeddingDim: 64 });
 *   const value = loss.compute(embeddings, labels);   // scalar tensor, batch mean
 * Classifier heads own their class weights (`loss.trainableVariables`), and expose `logits()`
 * and `cosines()`. See docs/losses.md for the formulas and defaults.
 */
export * from './validate';
export * from './head';
export {
  safeAcos,
  safeSqrt,
  sinFromCos,
  l2Normalize,
  l2NormalizeUnscaled,
  stopGradient,
  pairwiseSquaredDistances,
} from './ops';
export * from './margin';
export * from './softmax';
export * from './normface';
export * from './sphereface';
export * from './cosface';
export * from './arcface';
export * from './combined';
export * from './curricularface';
export * from './subcenter-arcface';
export * from './adaface';
export * from './contrastive';
export * from './miners';
export * from './triplet';
export * from './center';
export * from './registry';
export * from './init';
