/**
 * Initial class weights spread evenly over the unit sphere — the default for 2-D and 3-D
 * embeddings.
 *
 * Why: in two or three dimensions, random class weights often start with two or three classes
 * a few degrees apart, and a freshly initialised ReLU network maps every image into one narrow
 * cone (its features share a large common component: on the course's data the normalized
 * features' mean resultant length is 0.96–0.99 at initialisation in 2-D). Classes that start near each
 * other, or whose weights start on the far side of that cone, where cos θ is flat and its
 * gradient ∝ sin θ ≈ 0, are pulled apart slowly or not at all; with eight MNIST classes in 2-D a
 * third of the runs ended with some or all classes on the far side of their own weight (see
 * `docs/flagship-figures.md`). Starting the weights at evenly spread directions gives every class
 * a sector of its own from the first step. Above three dimensions the usual random start is
 * kept (the course's embeddings of 16 or more dimensions train well from it, and in 64 or more
 * random directions are already nearly orthogonal); `init: 'spread'` asks for this one there too.
 */
import { Rng } from '../util/random';
import { norm2 } from '../util/reduce';

/** Seeded standard normal (Box–Muller). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function normalize(v: number[]): number[] {
  const r = norm2(v);
  return v.map((x) => x / r);
}

/** Work budget of the repulsion, in pair evaluations: it keeps thousands of classes to a second or so. */
const PAIR_BUDGET = 5e7;

/**
 * `count` unit directions in `dim` dimensions, as far apart as a short repulsion can make them,
 * returned as rows [count][dim]. 1-D: alternating ±1. 2-D: a regular polygon at a seeded angle.
 * 3-D: the golden-spiral (Fibonacci) lattice under a seeded rotation; above 3-D: seeded random
 * directions. Then projected steps on the Riesz energy Σ 1/‖vᵢ − vⱼ‖ (the Thomson problem), which
 * drive them towards an even spread (for count ≤ dim + 1, the regular simplex): up to
 * `iterations` steps, fewer for many directions so that the work stays under 5·10⁷ pairs (800
 * directions get 78 steps from an already even lattice). Deterministic for a seed.
 */
export function spreadDirections(dim: number, count: number, seed = 42, iterations = 400): number[][] {
  if (!Number.isInteger(dim) || dim < 1)
    throw new Error(`spreadDirections: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`spreadDirections: count must be a positive integer, got ${count}`);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`spreadDirections: seed must be an integer ≥ 0, got ${seed}`);
  if (!Number.isSafeInteger(iterations) || iterations < 0)
    throw new Error(`spreadDirections: iterations must be an integer ≥ 0, got ${iterations}`);
  const rng = new Rng(seed);
  if (dim === 1) return Array.from({ length: count }, (_, c) => [c % 2 === 0 ? 1 : -1]);
  if (dim === 2) {
    const a0 = 2 * Math.PI * rng.next();
    return Array.from({ length: count }, (_, c) => {
      const a = a0 + (2 * Math.PI * c) / count;
      return [Math.cos(a), Math.sin(a)];
    });
  }
  const V = new Float64Array(count * dim);
  if (dim === 3) {
    // Golden-spiral lattice, then a random rotation (orthonormal frame from three Gaussian vectors).
    const frame: number[][] = [];
    while (frame.length < 3) {
      let v = Array.from({ length: 3 }, () => gaussian(rng));
      for (const f of frame) {
        const d = v.reduce((a, x, k) => a + x * f[k], 0);
        v = v.map((x, k) => x - d * f[k]);
      }
      if (norm2(v) > 1e-6) frame.push(normalize(v));
    }
    const golden = Math.PI * (3 - Math.sqrt(5));
    for (let i = 0; i < count; i++) {
      const z = 1 - (2 * (i + 0.5)) / count;
      const r = Math.sqrt(1 - z * z);
      const p = [r * Math.cos(golden * i), r * Math.sin(golden * i), z];
      for (let k = 0; k < 3; k++) V[i * 3 + k] = p[0] * frame[0][k] + p[1] * frame[1][k] + p[2] * frame[2][k];
    }
  } else {
    for (let i = 0; i < count; i++) {
      const v = normalize(Array.from({ length: dim }, () => gaussian(rng)));
      for (let k = 0; k < dim; k++) V[i * dim + k] = v[k];
    }
  }
  const steps = Math.min(iterations, Math.floor(PAIR_BUDGET / Math.max(1, count * count)));
  const F = new Float64Array(count * dim);
  for (let it = 0; it < steps; it++) {
    // Tangential Riesz forces on every direction, then a step that moves the most-pushed one
    // by `step` radians (shrinking over the iterations) and the others in proportion.
    F.fill(0);
    for (let i = 0; i < count; i++) {
      for (let j = i + 1; j < count; j++) {
        let r2 = 0;
        for (let k = 0; k < dim; k++) {
          const d = V[i * dim + k] - V[j * dim + k];
          r2 += d * d;
        }
        const f = 1 / Math.pow(Math.max(r2, 1e-12), 1.5);
        for (let k = 0; k < dim; k++) {
          const d = f * (V[i * dim + k] - V[j * dim + k]);
          F[i * dim + k] += d;
          F[j * dim + k] -= d;
        }
      }
    }
    let largest = 0;
    for (let i = 0; i < count; i++) {
      let radial = 0;
      for (let k = 0; k < dim; k++) radial += F[i * dim + k] * V[i * dim + k];
      let n2 = 0;
      for (let k = 0; k < dim; k++) {
        F[i * dim + k] -= radial * V[i * dim + k];
        n2 += F[i * dim + k] ** 2;
      }
      largest = Math.max(largest, Math.sqrt(n2));
    }
    if (!(largest > 1e-12)) break;
    const step = (0.2 * Math.pow(0.98, it)) / largest;
    for (let i = 0; i < count; i++) {
      let n2 = 0;
      for (let k = 0; k < dim; k++) {
        V[i * dim + k] += step * F[i * dim + k];
        n2 += V[i * dim + k] ** 2;
      }
      const n = Math.sqrt(n2);
      for (let k = 0; k < dim; k++) V[i * dim + k] /= n;
    }
  }
  return Array.from({ length: count }, (_, i) => Array.from(V.subarray(i * dim, (i + 1) * dim)));
}
