/**
 * Initial class weights spread evenly over the unit sphere — the default for 2-D and 3-D
 * embeddings.
 *
 * Why: in two or three dimensions, random class weights often start with two or three classes
 * a few degrees apart, and a freshly initialised ReLU network maps every image into one narrow
 * cone (its features share a large common component: on the course's data the normalized
 * features' mean resultant length is 0.97–0.99 at initialisation). Classes that start near each
 * other, or whose weights start on the far side of that cone, where cos θ is flat and its
 * gradient ∝ sin θ ≈ 0, are pulled apart slowly or not at all; with eight MNIST classes in 2-D a
 * third of the runs ended with some or all classes on the far side of their own weight (see
 * `docs/flagship-figures.md`). Starting the weights at evenly spread directions gives every class
 * a sector of its own from the first step. In 64 or more dimensions random directions are
 * already nearly orthogonal, so the usual random start is kept there.
 */
import { Rng } from '../util/random';

/** Seeded standard normal (Box–Muller). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function normalize(v: number[]): number[] {
  const r = Math.hypot(...v);
  return v.map((x) => x / r);
}

/**
 * `count` unit directions in `dim` dimensions, as far apart as a short repulsion can make them,
 * returned as rows [count][dim]. 1-D: alternating ±1. 2-D: a regular polygon at a seeded angle.
 * 3-D and up: seeded random directions, then projected gradient steps on the Riesz energy
 * Σ 1/‖vᵢ − vⱼ‖ (the Thomson problem), which drives them towards an even spread; for
 * count ≤ dim + 1 that is the regular simplex. Deterministic for a seed.
 */
export function spreadDirections(dim: number, count: number, seed = 42, iterations = 400): number[][] {
  if (!Number.isInteger(dim) || dim < 1)
    throw new Error(`spreadDirections: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`spreadDirections: count must be a positive integer, got ${count}`);
  const rng = new Rng(seed);
  if (dim === 1) return Array.from({ length: count }, (_, c) => [c % 2 === 0 ? 1 : -1]);
  if (dim === 2) {
    const a0 = 2 * Math.PI * rng.next();
    return Array.from({ length: count }, (_, c) => {
      const a = a0 + (2 * Math.PI * c) / count;
      return [Math.cos(a), Math.sin(a)];
    });
  }
  let V = Array.from({ length: count }, () => normalize(Array.from({ length: dim }, () => gaussian(rng))));
  for (let it = 0; it < iterations; it++) {
    // Tangential Riesz forces on every direction, then a step that moves the most-pushed one
    // by `step` radians (shrinking over the iterations) and the others in proportion.
    const forces = V.map((v, i) => {
      const g = new Array<number>(dim).fill(0);
      for (let j = 0; j < count; j++) {
        if (j === i) continue;
        const d = v.map((x, k) => x - V[j][k]);
        const r2 = d.reduce((a, b) => a + b * b, 0);
        const f = 1 / Math.pow(Math.max(r2, 1e-12), 1.5);
        for (let k = 0; k < dim; k++) g[k] += f * d[k];
      }
      const radial = g.reduce((a, x, k) => a + x * v[k], 0);
      return g.map((x, k) => x - radial * v[k]);
    });
    const largest = Math.max(...forces.map((t) => Math.hypot(...t)));
    if (!(largest > 1e-12)) break;
    const step = 0.2 * Math.pow(0.98, it);
    V = V.map((v, i) => normalize(v.map((x, k) => x + (step * forces[i][k]) / largest)));
  }
  return V;
}
