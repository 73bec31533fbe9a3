/** Shared look: a colour-blind-safe palette (Okabe–Ito, extended) and axis helpers. */

/** Okabe & Ito's eight colours plus two from Paul Tol's palettes: distinguishable with common colour-vision deficiencies. */
export const PALETTE = [
  '#0072B2',
  '#E69F00',
  '#009E73',
  '#CC79A7',
  '#56B4E9',
  '#D55E00',
  '#F0E442',
  '#000000',
  '#999999',
  '#882255',
];

export function colour(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length];
}

export function axis(title: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { title: { text: title }, zeroline: false, ...extra };
}

export function titled(text: string): Record<string, unknown> {
  return { text, x: 0.02, xanchor: 'left' };
}

export const DEG = 180 / Math.PI;

/** Class display names: given names, else "class k". */
export function className(names: string[] | undefined, k: number): string {
  return names?.[k] ?? `class ${k}`;
}
