/**
 * From a rendered glyph (any size, white ink on black) to one size×size sample: centered on its
 * ink box, scaled so the box's longer side is 3/4 of the image times a jitter scale, rotated and
 * shifted. Each output pixel averages 4×4 bilinear sub-samples of the source, so the 2–3×
 * downscale does not alias. Pure arithmetic on numbers: the same input gives the same bytes on
 * every machine.
 */
import { Rng } from '../../util/random';

export interface Jitter {
  /** Rotation in degrees (positive: counter-clockwise). */
  rotationDeg: number;
  /** Multiplies the glyph's size. */
  scale: number;
  /** Shift in output pixels. */
  dx: number;
  dy: number;
}

export interface JitterRange {
  rotationDeg: number;
  scale: [number, number];
  shiftPx: number;
}

export const DEFAULT_JITTER: JitterRange = { rotationDeg: 8, scale: [0.9, 1.1], shiftPx: 2 };
export const NO_JITTER: Jitter = { rotationDeg: 0, scale: 1, dx: 0, dy: 0 };

/** FNV-1a of a string: a stable 32-bit seed for one (set seed, syllable, face) sample. */
export function sampleSeed(seed: number, syllable: string, faceId: string): number {
  let h = 0x811c9dc5;
  const text = `${seed}|${syllable.codePointAt(0)}|${faceId}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The jitter of one sample: uniform in the ranges, drawn from `sampleSeed`. */
export function drawJitter(range: JitterRange, seed: number): Jitter {
  const r = new Rng(seed);
  return {
    rotationDeg: (2 * r.next() - 1) * range.rotationDeg,
    scale: range.scale[0] + r.next() * (range.scale[1] - range.scale[0]),
    dx: (2 * r.next() - 1) * range.shiftPx,
    dy: (2 * r.next() - 1) * range.shiftPx,
  };
}

/** Ink box of a glyph: [x0, y0, x1, y1] (exclusive ends), or null when nothing is drawn. */
export function inkBox(g: Uint8Array, w: number, h: number): [number, number, number, number] | null {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (g[y * w + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

/** Places glyph `g` (w×h) into a size×size image with jitter `j`; null for a blank glyph. */
export function composeGlyph(g: Uint8Array, w: number, h: number, size: number, j: Jitter): Uint8Array | null {
  const box = inkBox(g, w, h);
  if (!box) return null;
  const [x0, y0, x1, y1] = box;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const k = (0.75 * size * j.scale) / Math.max(x1 - x0, y1 - y0);
  const th = (j.rotationDeg * Math.PI) / 180;
  const cos = Math.cos(th);
  const sin = Math.sin(th);
  const ox = size / 2 + j.dx;
  const oy = size / 2 + j.dy;
  const at = (x: number, y: number) => (x >= 0 && y >= 0 && x < w && y < h ? g[y * w + x] : 0);
  const out = new Uint8Array(size * size);
  const S = 4;
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      let sum = 0;
      for (let t = 0; t < S; t++) {
        for (let s = 0; s < S; s++) {
          const rx = u + (s + 0.5) / S - ox;
          const ry = v + (t + 0.5) / S - oy;
          // Inverse of "rotate counter-clockwise by θ" in image coordinates (y down).
          const sx = (cos * rx - sin * ry) / k + cx - 0.5;
          const sy = (sin * rx + cos * ry) / k + cy - 0.5;
          const fx = Math.floor(sx);
          const fy = Math.floor(sy);
          const ax = sx - fx;
          const ay = sy - fy;
          sum +=
            (1 - ay) * ((1 - ax) * at(fx, fy) + ax * at(fx + 1, fy)) +
            ay * ((1 - ax) * at(fx, fy + 1) + ax * at(fx + 1, fy + 1));
        }
      }
      out[v * size + u] = Math.min(255, Math.round(sum / (S * S)));
    }
  }
  return out;
}
