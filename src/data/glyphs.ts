/**
 * Hangul glyph identities: a many-identity data set for open-set recognition that ships with
 * margin-lab. Each of the 2,350 KS X 1001 syllables is an identity; each font face is a "capture
 * condition" (like pose or lighting for a face): the identity is the shape, the face the nuisance.
 * Built from Debian's Korean fonts by `npm run data:glyphs` (src/data/glyph-gen); the repository
 * ships a fixed subset in `data/hangul-glyphs`.
 *
 * Files (gzip IDX, n samples): `images-idx3-ubyte.gz` [n, 32, 32] uint8, white glyph on black;
 * `labels-idx1-short.gz` [n] int16 class ids; `faces-idx1-short.gz` [n] int16 face ids;
 * `meta.json`: the syllable of each class, the faces (file, collection index, family, package
 * and version), the seed and the jitter.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset, dataDir } from './dataset';
import { DataFileError, IDX_INT16, IDX_UINT8, parseIdxTyped, readIdxBytes } from './idx';
import { Rng } from '../util/random';

/** The 2,350 KS X 1001 Hangul syllables in code order (EUC-KR rows 0xB0–0xC8, columns 0xA1–0xFE). */
export function hangulSyllables(): string[] {
  const decoder = new TextDecoder('euc-kr', { fatal: true });
  const out: string[] = [];
  for (let row = 0xb0; row <= 0xc8; row++) {
    for (let col = 0xa1; col <= 0xfe; col++) out.push(decoder.decode(new Uint8Array([row, col])));
  }
  return out;
}

export interface GlyphFaceMeta {
  /** `file#index`: the face's id. */
  id: string;
  file: string;
  index: number;
  family: string;
  style: string;
  /** fontconfig weight (80 regular, 200 bold, 205 extra-bold, ...). */
  weight: number;
  /** Debian package that ships the file, and its version ('' when not from a package). */
  package: string;
  version: string;
}

export interface GlyphMeta {
  format: 'margin-lab-hangul-glyphs';
  version: 1;
  /** Syllable of each class id. */
  syllables: string[];
  faces: GlyphFaceMeta[];
  /** Faces found but not used, and why. */
  excluded: Array<{ id: string; family: string; style: string; reason: string }>;
  seed: number;
  size: number;
  jitter: { rotationDeg: number; scale: [number, number]; shiftPx: number };
  samples: number;
  /** Debian packages the faces come from, with versions. */
  packages: Record<string, string>;
  /** How the set was made: the command, and which subset of the full set it is. */
  subset: { syllables: number; faces: number; of: { syllables: number; faces: number } };
}

export interface GlyphDataset extends Dataset {
  /** Face id (index into meta.faces) of each sample. */
  face: Int32Array;
  meta: GlyphMeta;
}

export const GLYPH_FILES = {
  images: 'images-idx3-ubyte.gz',
  labels: 'labels-idx1-short.gz',
  faces: 'faces-idx1-short.gz',
  meta: 'meta.json',
} as const;

/**
 * Loads a Hangul glyph set (default: the shipped `data/hangul-glyphs`). Pixel values are scaled
 * to [0, 1]; `classNames` are the syllables. Every file is checked against the others.
 */
export function loadHangulGlyphs(opts: { dir?: string } = {}): GlyphDataset {
  const dir = opts.dir ?? path.join(dataDir(), 'hangul-glyphs');
  const metaFile = path.join(dir, GLYPH_FILES.meta);
  if (!fs.existsSync(metaFile)) {
    throw new DataFileError(
      `${metaFile}: not found. The Hangul glyph set ships in data/hangul-glyphs; rebuild it with npm run data:glyphs (needs the fonts listed in its README)`,
    );
  }
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as GlyphMeta;
  if (meta.format !== 'margin-lab-hangul-glyphs')
    throw new DataFileError(`${metaFile}: not a margin-lab Hangul glyph set (format ${JSON.stringify(meta.format)})`);
  const img = parseIdxTyped(readIdxBytes(path.join(dir, GLYPH_FILES.images)), GLYPH_FILES.images, IDX_UINT8);
  const lab = parseIdxTyped(readIdxBytes(path.join(dir, GLYPH_FILES.labels)), GLYPH_FILES.labels, IDX_INT16);
  const fac = parseIdxTyped(readIdxBytes(path.join(dir, GLYPH_FILES.faces)), GLYPH_FILES.faces, IDX_INT16);
  if (img.dims.length !== 3 || img.dims[1] !== meta.size || img.dims[2] !== meta.size) {
    throw new DataFileError(
      `${GLYPH_FILES.images}: expected [n, ${meta.size}, ${meta.size}], got [${img.dims.join(', ')}]`,
    );
  }
  const n = img.dims[0];
  if (lab.dims.length !== 1 || lab.dims[0] !== n)
    throw new DataFileError(`${GLYPH_FILES.labels}: expected [${n}] labels, got [${lab.dims.join(', ')}]`);
  if (fac.dims.length !== 1 || fac.dims[0] !== n)
    throw new DataFileError(`${GLYPH_FILES.faces}: expected [${n}] face ids, got [${fac.dims.join(', ')}]`);
  if (meta.samples !== n) throw new DataFileError(`${metaFile}: says ${meta.samples} samples, the files hold ${n}`);
  const y = Int32Array.from(lab.data);
  const face = Int32Array.from(fac.data);
  for (let i = 0; i < n; i++) {
    if (y[i] < 0 || y[i] >= meta.syllables.length)
      throw new DataFileError(`${GLYPH_FILES.labels}: label ${y[i]} at ${i} is outside 0–${meta.syllables.length - 1}`);
    if (face[i] < 0 || face[i] >= meta.faces.length)
      throw new DataFileError(`${GLYPH_FILES.faces}: face ${face[i]} at ${i} is outside 0–${meta.faces.length - 1}`);
  }
  const x = new Float32Array(img.data.length);
  for (let i = 0; i < x.length; i++) x[i] = img.data[i] / 255;
  return {
    name: 'hangul-glyphs',
    x,
    y,
    shape: [meta.size, meta.size, 1],
    classNames: meta.syllables.slice(),
    face,
    meta,
  };
}

/**
 * Seeded identity-disjoint classes for an open-set split: a `seenFraction` of the classes
 * (rounded, at least 2 and leaving at least 2 unseen), chosen by `seed`.
 */
export function seededClassSplit(
  numClasses: number,
  opts: { seenFraction?: number; seed?: number } = {},
): { seen: number[]; unseen: number[] } {
  const f = opts.seenFraction ?? 0.8;
  if (!(f > 0 && f < 1))
    throw new Error(`seededClassSplit: seenFraction must be between 0 and 1 (exclusive), got ${f}`);
  if (!(Number.isInteger(numClasses) && numClasses >= 4))
    throw new Error(`seededClassSplit: needs at least 4 classes, got ${numClasses}`);
  const k = Math.min(numClasses - 2, Math.max(2, Math.round(f * numClasses)));
  const order = new Rng(opts.seed ?? 0).shuffle(Array.from({ length: numClasses }, (_, i) => i)) as number[];
  return { seen: order.slice(0, k).sort((a, b) => a - b), unseen: order.slice(k).sort((a, b) => a - b) };
}

/**
 * Splits a glyph set into train and test parts by face: a seeded `testFaceFraction` of the faces
 * is held out (test), the rest trains. With `seededClassSplit` this gives the open-set protocol:
 * train on seen syllables in the train faces; test seen syllables in new faces (closed set) and
 * unseen syllables in the test faces (open set).
 */
export function splitByFace(
  ds: GlyphDataset,
  opts: { testFaceFraction?: number; seed?: number } = {},
): { train: Dataset; test: Dataset } {
  const f = opts.testFaceFraction ?? 0.25;
  if (!(f > 0 && f < 1)) throw new Error(`splitByFace: testFaceFraction must be between 0 and 1 (exclusive), got ${f}`);
  const faces = [...new Set(Array.from(ds.face))].sort((a, b) => a - b);
  if (faces.length < 2) throw new Error(`splitByFace: needs at least 2 faces, the set has ${faces.length}`);
  const order = new Rng((opts.seed ?? 0) + 101).shuffle(faces.slice()) as number[];
  const nTest = Math.min(faces.length - 1, Math.max(1, Math.round(f * faces.length)));
  const testFaces = new Set(order.slice(0, nTest));
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const pick = (keep: (i: number) => boolean, name: string): Dataset => {
    const idx: number[] = [];
    for (let i = 0; i < ds.y.length; i++) if (keep(i)) idx.push(i);
    const x = new Float32Array(idx.length * per);
    idx.forEach((i, k) => x.set(ds.x.subarray(i * per, (i + 1) * per), k * per));
    return { name, x, y: Int32Array.from(idx, (i) => ds.y[i]), shape: ds.shape, classNames: ds.classNames };
  };
  return {
    train: pick((i) => !testFaces.has(ds.face[i]), `${ds.name}-train-faces`),
    test: pick((i) => testFaces.has(ds.face[i]), `${ds.name}-test-faces`),
  };
}
