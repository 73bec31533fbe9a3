/**
 * Triplet miners: small, separate pieces that choose (anchor, positive, negative) index triplets
 * from a batch's squared-distance matrix and labels. Selection is not differentiated; the loss
 * recomputes the chosen distances from the embeddings so gradients flow.
 */
import { LossInputError } from './validate';

export interface Triplets {
  anchors: Int32Array;
  positives: Int32Array;
  negatives: Int32Array;
}

export interface MinerInput {
  /** Squared distances, row-major [N·N]. */
  dist: ArrayLike<number>;
  labels: Int32Array;
  /** Margin α (semi-hard mining needs it). */
  margin: number;
}

export type TripletMiner = (input: MinerInput) => Triplets;

function build(list: number[][]): Triplets {
  return {
    anchors: Int32Array.from(list, (t) => t[0]),
    positives: Int32Array.from(list, (t) => t[1]),
    negatives: Int32Array.from(list, (t) => t[2]),
  };
}

/** Throws unless some anchor has a positive (same label, other sample) and a negative. */
export function checkTripletBatch(labels: Int32Array): void {
  const n = labels.length;
  let hasPositive = false;
  let hasNegative = false;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      if (labels[i] === labels[j]) hasPositive = true;
      else hasNegative = true;
    }
  }
  if (!hasPositive)
    throw new LossInputError(
      `triplet: the batch has no positive pair (no label occurs twice among ${n} samples); use P×K batches with K ≥ 2`,
    );
  if (!hasNegative)
    throw new LossInputError(`triplet: the batch has a single class (label ${labels[0]}), so there is no negative`);
}

/** Every valid triplet: y_a = y_p, a ≠ p, y_n ≠ y_a. */
export const batchAll: TripletMiner = ({ labels }) => {
  const n = labels.length;
  const out: number[][] = [];
  for (let a = 0; a < n; a++) {
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      for (let q = 0; q < n; q++) if (labels[q] !== labels[a]) out.push([a, p, q]);
    }
  }
  return build(out);
};

/** Per anchor: the farthest positive and the closest negative (Hermans et al., 2017). */
export const batchHard: TripletMiner = ({ dist, labels }) => {
  const n = labels.length;
  const out: number[][] = [];
  for (let a = 0; a < n; a++) {
    let p = -1;
    let q = -1;
    for (let j = 0; j < n; j++) {
      if (j === a) continue;
      const d = dist[a * n + j];
      if (labels[j] === labels[a]) {
        if (p < 0 || d > dist[a * n + p]) p = j;
      } else if (q < 0 || d < dist[a * n + q]) q = j;
    }
    if (p >= 0 && q >= 0) out.push([a, p, q]);
  }
  return build(out);
};

/**
 * FaceNet semi-hard negatives: for each anchor-positive pair, a negative with
 * d(a,p) < d(a,n) < d(a,p) + α — farther than the positive but still inside the margin. The
 * hardest such negative (smallest d(a,n)) is taken; pairs without one contribute nothing.
 */
export const semiHard: TripletMiner = ({ dist, labels, margin }) => {
  const n = labels.length;
  const out: number[][] = [];
  for (let a = 0; a < n; a++) {
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      const dap = dist[a * n + p];
      let best = -1;
      for (let q = 0; q < n; q++) {
        if (labels[q] === labels[a]) continue;
        const daq = dist[a * n + q];
        if (daq > dap && daq < dap + margin && (best < 0 || daq < dist[a * n + best])) best = q;
      }
      if (best >= 0) out.push([a, p, best]);
    }
  }
  return build(out);
};

export const miners = { batchAll, batchHard, semiHard } as const;
export type MinerName = keyof typeof miners;
