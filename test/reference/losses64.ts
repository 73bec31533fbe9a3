/**
 * Independent float64 reference implementations, written straight from the papers' formulas
 * with plain JS numbers and Math.acos — no tfjs, no code shared with src/. The tests compare
 * src/losses against these values, and against their central finite-difference gradients.
 *
 * Conventions shared with the library (documented there): W is [D][C] (column j = class j),
 * a zero vector normalizes to zero (cosine 0), losses are batch means.
 */
export type Mat = number[][];

export const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
export const norm = (a: number[]) => Math.sqrt(dot(a, a));
export const unit = (a: number[]) => {
  const n = norm(a);
  return n === 0 ? a.map(() => 0) : a.map((v) => v / n);
};
export const column = (W: Mat, j: number) => W.map((row) => row[j]);
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** cos θ_ij between row i of x and column j of W. */
export function cosMatrix(x: Mat, W: Mat): Mat {
  const cols = W[0].length;
  const wu = Array.from({ length: cols }, (_, j) => unit(column(W, j)));
  return x.map((xi) => {
    const u = unit(xi);
    return wu.map((w) => dot(u, w));
  });
}

/** Cross-entropy of one row of logits with target y: log Σ exp(z) − z_y. */
export function crossEntropy(z: number[], y: number): number {
  const mx = Math.max(...z);
  return mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0)) - z[y];
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** Mean cross-entropy where row i's logits are s_i · (cos with target entry replaced). */
function marginCE(
  cos: Mat,
  labels: number[],
  target: (c: number, i: number) => number,
  scale: (i: number) => number,
  other: (c: number, i: number) => number = (c) => c,
): number {
  return mean(
    cos.map((row, i) => {
      const y = labels[i];
      const z = row.map((c, j) => scale(i) * (j === y ? target(c, i) : other(c, i)));
      return crossEntropy(z, y);
    }),
  );
}

// ---- target functions of θ (papers) ----

/** ArcFace target: cos(θ + m) while θ + m ≤ π, else cos θ − m·sin m (insightface). */
export function arcTarget(c: number, m: number, easy = false): number {
  const theta = Math.acos(clamp(c, -1, 1));
  if (easy) return c > 0 ? Math.cos(theta + m) : c;
  return theta + m <= Math.PI ? Math.cos(theta + m) : c - m * Math.sin(m);
}

/** SphereFace ψ(θ) = (−1)^k cos(mθ) − 2k, θ ∈ [kπ/m, (k+1)π/m]. */
export function psi(c: number, m: number): number {
  const theta = Math.acos(clamp(c, -1, 1));
  const k = Math.min(m - 1, Math.floor((m * theta) / Math.PI));
  return (k % 2 === 0 ? 1 : -1) * Math.cos(m * theta) - 2 * k;
}

/** cos(m1·θ + m2) − m3, continued monotonically past π (ArcFace fallback for m1 = 1, ψ otherwise). */
export function combinedTarget(c: number, m1: number, m2: number, m3: number): number {
  const theta = Math.acos(clamp(c, -1, 1));
  const phi = m1 * theta + m2;
  if (phi <= Math.PI) return Math.cos(phi) - m3;
  if (m1 === 1) return c - m2 * Math.sin(m2) - m3;
  const k = Math.floor(phi / Math.PI);
  return (k % 2 === 0 ? 1 : -1) * Math.cos(phi) - 2 * k - m3;
}

// ---- losses ----

export function softmaxRef(x: Mat, W: Mat, b: number[], labels: number[]): number {
  return mean(
    x.map((xi, i) =>
      crossEntropy(
        b.map((bj, j) => dot(xi, column(W, j)) + bj),
        labels[i],
      ),
    ),
  );
}

export function normFaceRef(x: Mat, W: Mat, labels: number[], s: number): number {
  return marginCE(
    cosMatrix(x, W),
    labels,
    (c) => c,
    () => s,
  );
}

export function cosFaceRef(x: Mat, W: Mat, labels: number[], s: number, m: number): number {
  return marginCE(
    cosMatrix(x, W),
    labels,
    (c) => c - m,
    () => s,
  );
}

export function arcFaceRef(x: Mat, W: Mat, labels: number[], s: number, m: number, easy = false): number {
  return marginCE(
    cosMatrix(x, W),
    labels,
    (c) => arcTarget(c, m, easy),
    () => s,
  );
}

export function sphereFaceRef(
  x: Mat,
  W: Mat,
  labels: number[],
  m: number,
  lambda: number,
  normalized: boolean,
  s = 30,
): number {
  return marginCE(
    cosMatrix(x, W),
    labels,
    (c) => (lambda * c + psi(c, m)) / (1 + lambda),
    (i) => (normalized ? s : norm(x[i])),
  );
}

export function combinedRef(x: Mat, W: Mat, labels: number[], s: number, m1: number, m2: number, m3: number): number {
  return marginCE(
    cosMatrix(x, W),
    labels,
    (c) => combinedTarget(c, m1, m2, m3),
    () => s,
  );
}

/** Sub-center ArcFace: W has C·K columns, class j's sub-centers at j·K … j·K+K−1. */
export function subCenterRef(x: Mat, W: Mat, labels: number[], K: number, s: number, m: number): number {
  const all = cosMatrix(x, W);
  const C = W[0].length / K;
  const cos = all.map((row) => Array.from({ length: C }, (_, j) => Math.max(...row.slice(j * K, j * K + K))));
  return marginCE(
    cos,
    labels,
    (c) => arcTarget(c, m),
    () => s,
  );
}

/** CurricularFace; returns the loss and the updated t (t updated first in training mode). */
export function curricularRef(
  x: Mat,
  W: Mat,
  labels: number[],
  s: number,
  m: number,
  t0: number,
  training: boolean,
  alpha = 0.01,
): { loss: number; t: number } {
  const cos = cosMatrix(x, W);
  const cosY = cos.map((row, i) => row[labels[i]]);
  const t = training ? alpha * mean(cosY) + (1 - alpha) * t0 : t0;
  const loss = mean(
    cos.map((row, i) => {
      const y = labels[i];
      const target = arcTarget(row[y], m);
      const z = row.map((c, j) => s * (j === y ? target : c > target ? c * (t + c) : c));
      return crossEntropy(z, y);
    }),
  );
  return { loss, t };
}

/** AdaFace (authors' code); returns the loss and the updated running statistics. */
export function adaFaceRef(
  x: Mat,
  W: Mat,
  labels: number[],
  p: {
    s: number;
    m: number;
    h: number;
    alpha: number;
    mean: number;
    std: number;
    training: boolean;
    fixedNorms?: number[];
  },
): { loss: number; mean: number; std: number } {
  const eps = 1e-3;
  // The authors detach the norms; for finite differences the caller passes them fixed.
  const norms = p.fixedNorms ?? x.map((r) => clamp(norm(r), 0.001, 100));
  let mu = p.mean;
  let sd = p.std;
  if (p.training) {
    const bm = mean(norms);
    const bs = norms.length > 1 ? Math.sqrt(norms.reduce((a, v) => a + (v - bm) ** 2, 0) / (norms.length - 1)) : 0;
    mu = p.alpha * bm + (1 - p.alpha) * mu;
    sd = p.alpha * bs + (1 - p.alpha) * sd;
  }
  const cos = cosMatrix(x, W).map((row) => row.map((c) => clamp(c, -1 + eps, 1 - eps)));
  const loss = mean(
    cos.map((row, i) => {
      const y = labels[i];
      const zhat = clamp((p.h * (norms[i] - mu)) / (sd + eps), -1, 1);
      const theta = clamp(Math.acos(row[y]) - p.m * zhat, eps, Math.PI - eps);
      const target = Math.cos(theta) - (p.m * zhat + p.m);
      return crossEntropy(
        row.map((c, j) => p.s * (j === y ? target : c)),
        y,
      );
    }),
  );
  return { loss, mean: mu, std: sd };
}

/** Contrastive loss over all pairs i < j. */
export function contrastiveRef(
  x: Mat,
  labels: number[],
  margin: number,
  distance: 'euclidean' | 'cosine',
  normalize: boolean,
): number {
  const v = distance === 'cosine' || normalize ? x.map(unit) : x;
  const terms: number[] = [];
  for (let i = 0; i < v.length; i++) {
    for (let j = i + 1; j < v.length; j++) {
      const D = distance === 'cosine' ? 1 - dot(v[i], v[j]) : norm(v[i].map((a, k) => a - v[j][k]));
      const Y = labels[i] === labels[j] ? 0 : 1;
      terms.push((1 - Y) * 0.5 * D * D + Y * 0.5 * Math.max(0, margin - D) ** 2);
    }
  }
  return mean(terms);
}

/** Triplet loss with its own float64 mining. */
export function tripletRef(
  x: Mat,
  labels: number[],
  alpha: number,
  miner: 'batchAll' | 'batchHard' | 'semiHard',
  reduction: 'mean-active' | 'mean',
): { loss: number; mined: number; active: number } {
  const u = x.map(unit);
  const n = u.length;
  const d = (i: number, j: number) => u[i].reduce((s, v, k) => s + (v - u[j][k]) ** 2, 0);
  const trip: Array<[number, number, number]> = [];
  for (let a = 0; a < n; a++) {
    const pos = [...Array(n).keys()].filter((j) => j !== a && labels[j] === labels[a]);
    const neg = [...Array(n).keys()].filter((j) => labels[j] !== labels[a]);
    if (miner === 'batchAll') for (const p of pos) for (const q of neg) trip.push([a, p, q]);
    if (miner === 'batchHard' && pos.length && neg.length) {
      const p = pos.reduce((b, j) => (d(a, j) > d(a, b) ? j : b));
      const q = neg.reduce((b, j) => (d(a, j) < d(a, b) ? j : b));
      trip.push([a, p, q]);
    }
    if (miner === 'semiHard') {
      for (const p of pos) {
        const semi = neg.filter((q) => d(a, q) > d(a, p) && d(a, q) < d(a, p) + alpha);
        if (semi.length) trip.push([a, p, semi.reduce((b, j) => (d(a, j) < d(a, b) ? j : b))]);
      }
    }
  }
  const losses = trip.map(([a, p, q]) => Math.max(0, d(a, p) - d(a, q) + alpha));
  const active = losses.filter((l) => l > 0).length;
  const total = losses.reduce((s, v) => s + v, 0);
  const denom = reduction === 'mean' ? trip.length : Math.max(active, 1);
  return { loss: trip.length ? total / denom : 0, mined: trip.length, active };
}

/** Center loss ½·mean‖x − c_y‖² and the updated centers. */
export function centerRef(x: Mat, labels: number[], centers: Mat, alpha: number): { loss: number; centers: Mat } {
  const loss = mean(x.map((xi, i) => 0.5 * xi.reduce((s, v, k) => s + (v - centers[labels[i]][k]) ** 2, 0)));
  const next = centers.map((c, j) => {
    const idx = labels.map((l, i) => (l === j ? i : -1)).filter((i) => i >= 0);
    return c.map((ck, k) => ck - (alpha * idx.reduce((s, i) => s + (ck - x[i][k]), 0)) / (1 + idx.length));
  });
  return { loss, centers: next };
}

// ---- finite differences ----

/** Central finite-difference gradient of f at every entry of the matrix M (float64). */
export function fdGrad(f: (M: Mat) => number, M: Mat, h = 1e-6): Mat {
  return M.map((row, i) =>
    row.map((_, j) => {
      const plus = M.map((r) => r.slice());
      const minus = M.map((r) => r.slice());
      plus[i][j] += h;
      minus[i][j] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}
