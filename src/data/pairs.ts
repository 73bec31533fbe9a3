/**
 * Pair and batch sources: LFW-style verification pairs in folds, and P×K batches (P classes, K
 * samples each) so that every batch has positives for triplet and contrastive mining.
 */
import { Rng } from '../util/random';

export interface VerificationPairs {
  /** Index of the first and second sample of each pair. */
  a: Int32Array;
  b: Int32Array;
  /** 1 = same identity, 0 = different. */
  same: Uint8Array;
  /** Fold of each pair, 0..folds−1. */
  fold: Int32Array;
  folds: number;
}

/**
 * Balanced pairs in folds, as in the LFW protocol (10 folds × (300 same + 300 different)).
 * Pairs are distinct within the set; every same pair has two different samples.
 */
export function verificationPairs(
  labels: ArrayLike<number>,
  opts: { folds?: number; perFold?: number; seed?: number } = {},
): VerificationPairs {
  const folds = opts.folds ?? 10;
  const perFold = opts.perFold ?? 300;
  if (!(Number.isInteger(folds) && folds >= 1))
    throw new Error(`verificationPairs: folds must be a positive integer, got ${folds}`);
  if (!(Number.isInteger(perFold) && perFold >= 1))
    throw new Error(`verificationPairs: perFold must be a positive integer, got ${perFold}`);
  if (opts.seed !== undefined && !(Number.isSafeInteger(opts.seed) && opts.seed >= 0))
    throw new Error(`verificationPairs: seed must be an integer ≥ 0, got ${opts.seed}`);
  const rng = new Rng(opts.seed ?? 0);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l))
      throw new Error(
        `verificationPairs: label ${l} at index ${i} is not an integer (identity labels are whole numbers)`,
      );
    if (!byClass.has(l)) byClass.set(l, []);
    byClass.get(l)!.push(i);
  }
  const classes = [...byClass.keys()];
  const multi = classes.filter((c) => byClass.get(c)!.length >= 2);
  if (multi.length === 0)
    throw new Error('verificationPairs: no class has two samples, so no same-identity pair exists');
  if (classes.length < 2) throw new Error('verificationPairs: only one class, so no different-identity pair exists');
  const n = labels.length;
  const total = folds * perFold;
  let maxSame = 0;
  for (const c of multi) maxSame += (byClass.get(c)!.length * (byClass.get(c)!.length - 1)) / 2;
  if (maxSame < total)
    throw new Error(
      `verificationPairs: ${total} same pairs requested (${folds} folds × ${perFold}) but only ${maxSame} exist; ask for fewer pairs per fold or give more images per class`,
    );
  let sameAll = 0;
  for (const c of classes) sameAll += (byClass.get(c)!.length * (byClass.get(c)!.length - 1)) / 2;
  const maxDifferent = (n * (n - 1)) / 2 - sameAll;
  if (maxDifferent < total)
    throw new Error(
      `verificationPairs: ${total} different-identity pairs requested (${folds} folds × ${perFold}) but only ${maxDifferent} exist; ask for fewer pairs per fold or give more classes`,
    );
  const seen = new Set<string>();
  const key = (i: number, j: number) => (i < j ? `${i},${j}` : `${j},${i}`);
  const a: number[] = [];
  const b: number[] = [];
  const same: number[] = [];
  const fold: number[] = [];
  for (let f = 0; f < folds; f++) {
    for (let k = 0; k < perFold; k++) {
      for (;;) {
        const members = byClass.get(multi[rng.int(multi.length)])!;
        const i = members[rng.int(members.length)];
        const j = members[rng.int(members.length)];
        if (i === j || seen.has(key(i, j))) continue;
        seen.add(key(i, j));
        a.push(i);
        b.push(j);
        same.push(1);
        fold.push(f);
        break;
      }
      for (;;) {
        const i = rng.int(n);
        const j = rng.int(n);
        if (labels[i] === labels[j] || seen.has(key(i, j))) continue;
        seen.add(key(i, j));
        a.push(i);
        b.push(j);
        same.push(0);
        fold.push(f);
        break;
      }
    }
  }
  return {
    a: Int32Array.from(a),
    b: Int32Array.from(b),
    same: Uint8Array.from(same),
    fold: Int32Array.from(fold),
    folds,
  };
}

/**
 * Batches of P classes × K samples (each batch: P·K indices), classes and samples drawn without
 * replacement within an epoch where possible. Classes with fewer than K samples repeat samples.
 */
export function pkBatches(labels: ArrayLike<number>, P: number, K: number, seed: number): number[][] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    if (!byClass.has(labels[i])) byClass.set(labels[i], []);
    byClass.get(labels[i])!.push(i);
  }
  const classes = [...byClass.keys()];
  if (!Number.isInteger(P) || P < 2 || P > classes.length)
    throw new Error(`pkBatches: P = ${P} must be an integer between 2 and the number of classes (${classes.length})`);
  if (!Number.isInteger(K) || K < 2)
    throw new Error(`pkBatches: K = ${K} must be an integer of at least 2, to give every anchor a positive`);
  if (labels.length < P * K)
    throw new Error(
      `pkBatches: ${labels.length} images make no batch of P × K = ${P} × ${K} = ${P * K}; lower P or K, or give more images`,
    );
  const rng = new Rng(seed);
  const pools = new Map<number, number[]>();
  for (const c of classes) pools.set(c, rng.shuffle(byClass.get(c)!.slice()) as number[]);
  const batches: number[][] = [];
  const nBatches = Math.floor(labels.length / (P * K));
  for (let bi = 0; bi < nBatches; bi++) {
    const chosen = (rng.shuffle(classes.slice()) as number[]).slice(0, P);
    const batch: number[] = [];
    for (const c of chosen) {
      const all = byClass.get(c)!;
      for (let k = 0; k < K; k++) {
        let pool = pools.get(c)!;
        if (pool.length === 0) {
          pool = rng.shuffle(all.slice()) as number[];
          pools.set(c, pool);
        }
        batch.push(pool.pop()!);
      }
    }
    batches.push(batch);
  }
  return batches;
}
