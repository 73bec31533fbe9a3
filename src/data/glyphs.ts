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
import { sha256Hex } from '../util/fs';
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

/** Size and content hash of one file of a glyph set, recorded in meta.json by the builder. */
export interface GlyphFileRecord {
  bytes: number;
  sha256: string;
}

export interface GlyphMeta {
  format: 'margin-lab-hangul-glyphs';
  /** 2: meta.json records each data file's size and sha256 (`files`), checked at load. */
  version: 2;
  /** The three data files' sizes and sha256 hashes: a set whose files come from different builds is refused. */
  files: Record<'images' | 'labels' | 'faces', GlyphFileRecord>;
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
  if (!fs.existsSync(dir)) {
    // The one moment a rebuild can leave behind: killed between its two renames.
    const parent = path.dirname(dir);
    const prefix = `.${path.basename(dir)}.old-`;
    const moved = fs.existsSync(parent) ? fs.readdirSync(parent).find((n) => n.startsWith(prefix)) : undefined;
    if (moved)
      throw new DataFileError(
        `${dir}: missing; a rebuild was interrupted while swapping it and left the previous set at ${path.join(parent, moved)}. Run npm run data:glyphs again (it puts the previous set back first), or rename that folder back`,
      );
  }
  if (!fs.existsSync(metaFile)) {
    throw new DataFileError(
      `${metaFile}: not found. The Hangul glyph set ships in data/hangul-glyphs; rebuild it with npm run data:glyphs in a checkout of margin-lab (it needs the fonts listed in its README), or reinstall margin-lab`,
    );
  }
  const meta = readGlyphMeta(dir);
  checkGlyphFiles(dir, meta);
  // The exact sizes meta.json implies cap what each file may inflate to.
  const n0 = meta.samples;
  const cap = (bytes: number, what: string) => ({
    maxBytes: bytes,
    limitReason: `the ${bytes} bytes of ${what} meta.json describes`,
  });
  const img = parseIdxTyped(
    readIdxBytes(path.join(dir, GLYPH_FILES.images), cap(16 + n0 * meta.size * meta.size, `${n0} images`)),
    GLYPH_FILES.images,
    IDX_UINT8,
  );
  const lab = parseIdxTyped(
    readIdxBytes(path.join(dir, GLYPH_FILES.labels), cap(8 + 2 * n0, `${n0} labels`)),
    GLYPH_FILES.labels,
    IDX_INT16,
  );
  const fac = parseIdxTyped(
    readIdxBytes(path.join(dir, GLYPH_FILES.faces), cap(8 + 2 * n0, `${n0} face ids`)),
    GLYPH_FILES.faces,
    IDX_INT16,
  );
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

/** The sha256 of a file's bytes, hex. */
export function sha256File(file: string): string {
  return sha256Hex(fs.readFileSync(file));
}

/** Reads and checks a glyph set's meta.json; every error names the file. */
export function readGlyphMeta(dir: string): GlyphMeta {
  const metaFile = path.join(dir, GLYPH_FILES.meta);
  let meta: GlyphMeta;
  try {
    meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as GlyphMeta;
  } catch (e) {
    throw new DataFileError(`${metaFile}: not readable JSON (${(e as Error).message})`);
  }
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
    throw new DataFileError(`${metaFile}: expected a JSON object, got ${JSON.stringify(meta)}`);
  if (meta.format !== 'margin-lab-hangul-glyphs')
    throw new DataFileError(`${metaFile}: not a margin-lab Hangul glyph set (format ${JSON.stringify(meta.format)})`);
  if ((meta.version as number) === 1)
    throw new DataFileError(
      `${metaFile}: a set built by an earlier margin-lab, without content hashes (format version 1); rebuild it with npm run data:glyphs (add -- --full for the full set)`,
    );
  if (meta.version !== 2)
    throw new DataFileError(`${metaFile}: format version ${JSON.stringify(meta.version)}, expected 2`);
  if (!Number.isSafeInteger(meta.samples) || meta.samples < 1)
    throw new DataFileError(`${metaFile}: samples must be a positive integer, got ${JSON.stringify(meta.samples)}`);
  if (!Number.isSafeInteger(meta.size) || meta.size < 1)
    throw new DataFileError(`${metaFile}: size must be a positive integer, got ${JSON.stringify(meta.size)}`);
  if (!Array.isArray(meta.syllables) || !Array.isArray(meta.faces))
    throw new DataFileError(`${metaFile}: syllables and faces must be lists`);
  // Each syllable is one identity: a label indexes this list, so entries must be distinct strings.
  const seen = new Map<unknown, number>();
  (meta.syllables as unknown[]).forEach((syl, i) => {
    if (typeof syl !== 'string' || syl.length === 0)
      throw new DataFileError(`${metaFile}: syllables[${i}] must be a non-empty string, got ${JSON.stringify(syl)}`);
    if (seen.has(syl))
      throw new DataFileError(
        `${metaFile}: syllables[${i}] ${JSON.stringify(syl)} repeats syllables[${seen.get(syl)}]; each syllable is one identity, listed once`,
      );
    seen.set(syl, i);
  });
  for (const key of ['images', 'labels', 'faces'] as const) {
    const rec = meta.files?.[key];
    if (
      !rec ||
      typeof rec.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(rec.sha256) ||
      !Number.isSafeInteger(rec.bytes)
    )
      throw new DataFileError(`${metaFile}: files.${key} must record bytes and a sha256, got ${JSON.stringify(rec)}`);
  }
  return meta;
}

/**
 * Checks that each data file is the one meta.json was written with (size, then sha256). A set
 * whose files come from two builds, as an interrupted copy or rebuild leaves, is refused by name.
 */
export function checkGlyphFiles(dir: string, meta: GlyphMeta): void {
  for (const key of ['images', 'labels', 'faces'] as const) {
    const file = path.join(dir, GLYPH_FILES[key]);
    if (!fs.existsSync(file)) throw new DataFileError(`${file}: file not found (meta.json lists it)`);
    const rec = meta.files[key];
    const size = fs.statSync(file).size;
    const hash = size === rec.bytes ? sha256File(file) : null;
    if (hash !== rec.sha256)
      throw new DataFileError(
        `${file}: does not match meta.json (${hash === null ? `${size} bytes, meta.json says ${rec.bytes}` : `sha256 ${hash.slice(0, 12)}…, meta.json says ${rec.sha256.slice(0, 12)}…`}): the folder mixes files of different builds; rebuild it with npm run data:glyphs in a checkout of margin-lab, or reinstall margin-lab`,
      );
  }
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
