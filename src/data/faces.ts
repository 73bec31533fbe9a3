/**
 * Face datasets users bring: a folder per identity (CASIA-WebFace / VGGFace2 layout,
 * root/<identity>/<image>.jpg|png) and LFW's pairs.txt. Images are decoded and resized with
 * `sharp` to the model's input size, as floats in [0, 1].
 */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset } from './dataset';

/** The part of sharp's chainable API used here. */
interface SharpImage {
  resize(width: number, height: number, opts: { fit: 'fill' }): SharpImage;
  removeAlpha(): SharpImage;
  grayscale(): SharpImage;
  toColourspace(space: 'srgb'): SharpImage;
  raw(): SharpImage;
  toBuffer(): Promise<Buffer>;
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

export interface ImageFolderOptions {
  /** Output size [height, width] (default [112, 112], the usual aligned-face crop). */
  size?: [number, number];
  /** Decode to 1 channel instead of 3 (default false). */
  grayscale?: boolean;
  /**
   * Identities need at least this many images (default 2: an identity with one image has no
   * positive pair). Set 1 to allow singletons, e.g. for a gallery.
   */
  minImagesPerIdentity?: number;
  /** At most this many images per identity (sorted by file name). */
  maxImagesPerIdentity?: number;
  /** Stop at the first image that cannot be decoded (default false: skip it, count it, report it). */
  strict?: boolean;
}

/** Checks an integer option of loadImageFolder. */
function checkCount(name: string, v: unknown, min: number): void {
  if (v !== undefined && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= min))
    throw new RangeError(
      `loadImageFolder: ${name} must be an integer ≥ ${min}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`,
    );
}

export interface ImageFolderDataset extends Dataset {
  /** Source file of each sample. */
  files: string[];
  /** Files that were not loaded, and why (not an image by name, or not decodable). */
  skipped: Array<{ file: string; reason: string }>;
  /**
   * Identity folders and image files that are symbolic links. They are followed (data sets are
   * often assembled from links), and listed here and in `summary` so that it is never silent.
   */
  symlinks: string[];
  /** One line: identities, images, skipped files and followed symbolic links. */
  summary: string;
}

/** A folder name as the bytes on disk; throws, showing the bytes, when they are not valid UTF-8. */
function utf8Names(dir: string): string[] {
  return fs.readdirSync(dir, { encoding: 'buffer' }).map((b) => {
    const name = b.toString('utf8');
    if (!Buffer.from(name, 'utf8').equals(b)) {
      throw new Error(
        `${path.join(dir, name)}: the name is not valid UTF-8 (raw bytes ${b.toString('hex').replace(/(..)/g, '$1 ').trim()}); rename it, since identities are told apart by name`,
      );
    }
    return name;
  });
}

/**
 * sharp decodes image files. It is an optional peer dependency of the library (a project that
 * only trains on the shipped sets does not need its native libvips); the checkout installs it.
 */
function requireSharp(file: string): (input: string) => SharpImage {
  try {
    return require('sharp') as (input: string) => SharpImage;
  } catch (e) {
    throw new Error(
      `reading image files (${file}) needs sharp, which is not installed (${(e as Error).message.split('\n')[0]}); install it beside margin-lab: npm install sharp@0.35.5`,
    );
  }
}

/** Decodes one image file to [h·w·c] floats in [0, 1]; errors name the file. */
export async function decodeImage(file: string, size: [number, number], grayscale = false): Promise<Float32Array> {
  const sharp = requireSharp(file);
  let raw: Buffer;
  try {
    let img = sharp(file).resize(size[1], size[0], { fit: 'fill' }).removeAlpha();
    img = grayscale ? img.grayscale() : img.toColourspace('srgb');
    raw = await img.raw().toBuffer();
  } catch (e) {
    throw new Error(`cannot read image ${file}: ${(e as Error).message}`);
  }
  const channels = grayscale ? 1 : 3;
  const expected = size[0] * size[1] * channels;
  if (raw.length !== expected) throw new Error(`image ${file}: decoded ${raw.length} values, expected ${expected}`);
  const out = new Float32Array(expected);
  for (let i = 0; i < expected; i++) out[i] = raw[i] / 255;
  return out;
}

/** Loads root/<identity>/<image> into memory. Identity labels follow sorted folder names. */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const size = opts.size ?? [112, 112];
  if (!Array.isArray(size) || size.length !== 2 || !size.every((d) => Number.isSafeInteger(d) && d >= 1 && d <= 4096))
    throw new RangeError(
      `loadImageFolder: size must be [height, width], integers in [1, 4096], got ${JSON.stringify(size)}`,
    );
  checkCount('minImagesPerIdentity', opts.minImagesPerIdentity, 1);
  checkCount('maxImagesPerIdentity', opts.maxImagesPerIdentity, 1);
  const minImages = opts.minImagesPerIdentity ?? 2;
  if (opts.maxImagesPerIdentity !== undefined && opts.maxImagesPerIdentity < minImages)
    throw new RangeError(
      `loadImageFolder: maxImagesPerIdentity ${opts.maxImagesPerIdentity} is below minImagesPerIdentity ${minImages}`,
    );
  if (!fs.existsSync(root)) throw new Error(`image folder ${root} does not exist`);
  if (!fs.statSync(root).isDirectory()) throw new Error(`image folder ${root} is not a directory`);
  const symlinks: string[] = [];
  /** stat that follows links, noting them; a dangling link is an error naming it. */
  const statFollow = (p: string): fs.Stats => {
    if (fs.lstatSync(p).isSymbolicLink()) {
      symlinks.push(p);
      try {
        return fs.statSync(p);
      } catch (e) {
        throw new Error(
          `${p}: a symbolic link whose target cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        );
      }
    }
    return fs.statSync(p);
  };
  const identities = utf8Names(root)
    .filter((n) => statFollow(path.join(root, n)).isDirectory())
    .sort();
  if (identities.length === 0)
    throw new Error(`image folder ${root} has no identity sub-folders (expected root/<identity>/<image>.jpg)`);
  const files: string[] = [];
  const labels: number[] = [];
  const skipped: Array<{ file: string; reason: string }> = [];
  identities.forEach((id, label) => {
    const dir = path.join(root, id);
    const names = utf8Names(dir).sort();
    for (const f of names) {
      if (!IMAGE_EXT.has(path.extname(f).toLowerCase()))
        skipped.push({ file: path.join(dir, f), reason: 'not .jpg, .jpeg or .png' });
    }
    let imgs = names.filter((f) => IMAGE_EXT.has(path.extname(f).toLowerCase()));
    for (const f of imgs) statFollow(path.join(dir, f));
    if (imgs.length === 0) throw new Error(`identity folder ${dir} has no images (.jpg, .jpeg or .png)`);
    if (imgs.length < minImages) {
      throw new Error(
        `identity ${id} has ${imgs.length} image(s) but at least ${minImages} are needed (${dir}); remove it or pass minImagesPerIdentity: 1`,
      );
    }
    if (opts.maxImagesPerIdentity !== undefined) imgs = imgs.slice(0, opts.maxImagesPerIdentity);
    for (const f of imgs) {
      files.push(path.join(dir, f));
      labels.push(label);
    }
  });
  const channels = opts.grayscale ? 1 : 3;
  const per = size[0] * size[1] * channels;
  const x = new Float32Array(files.length * per);
  const keep: number[] = [];
  for (let i = 0; i < files.length; i++) {
    try {
      x.set(await decodeImage(files[i], size, opts.grayscale), keep.length * per);
      keep.push(i);
    } catch (e) {
      if (opts.strict) throw e;
      skipped.push({
        file: files[i],
        reason: (e as Error).message.replace(`cannot read image ${files[i]}: `, 'not decodable: '),
      });
    }
  }
  if (skipped.length) {
    const shown = skipped.slice(0, 3).map((s) => `${path.relative(root, s.file)} (${s.reason})`);
    console.warn(
      `loadImageFolder ${root}: skipped ${skipped.length} file(s): ${shown.join('; ')}${skipped.length > 3 ? `; and ${skipped.length - 3} more (see .skipped)` : ''}`,
    );
  }
  const loadedFiles = keep.map((i) => files[i]);
  const loadedLabels = keep.map((i) => labels[i]);
  const linkedIds = symlinks.filter((p) => path.dirname(p) === root).length;
  const summary =
    `loadImageFolder ${root}: ${identities.length} identities, ${keep.length} images` +
    (skipped.length ? `, ${skipped.length} file(s) skipped` : '') +
    (symlinks.length
      ? `; followed ${symlinks.length} symbolic link(s) (${linkedIds} identity folder(s), ${symlinks.length - linkedIds} image(s))`
      : '');
  if (symlinks.length) console.log(summary);
  return {
    summary,
    symlinks,
    name: path.basename(root),
    x: x.slice(0, keep.length * per),
    y: Int32Array.from(loadedLabels),
    skipped,
    shape: [size[0], size[1], channels],
    classNames: identities,
    files: loadedFiles,
  };
}

export interface LfwPair {
  fileA: string;
  fileB: string;
  same: boolean;
  fold: number;
}

/**
 * Parses LFW's pairs.txt: a header "folds<TAB>n" (or just "n" for one set), then per fold n
 * matched lines "name i j" and n mismatched lines "name1 i name2 j". Image paths are
 * root/name/name_000i.jpg. Errors give the line number.
 */
export function parseLfwPairs(text: string, root = ''): LfwPair[] {
  if (typeof text !== 'string')
    throw new Error(
      `parseLfwPairs: expected the text of pairs.txt (a string), got ${text === null ? 'null' : typeof text}`,
    );
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error('pairs.txt is empty');
  // Plain decimal digits only: Number() would also read "1e3" and "0x10".
  const decimal = (t: string) => (/^\d+$/.test(t) ? Number(t) : NaN);
  const header = lines[0].split(/\s+/).map(decimal);
  if (header.some((v) => !Number.isInteger(v) || v <= 0) || header.length > 2) {
    throw new Error(`pairs.txt line 1: expected "folds<TAB>pairsPerFold" or "pairsPerFold", got "${lines[0]}"`);
  }
  const [folds, n] = header.length === 2 ? header : [1, header[0]];
  const expected = 1 + folds * 2 * n;
  if (lines.length !== expected)
    throw new Error(
      `pairs.txt: header promises ${folds} fold(s) × 2 × ${n} pairs = ${expected - 1} lines, found ${lines.length - 1}`,
    );
  const img = (name: string, idx: string, line: number) => {
    if (name === '.' || name === '..' || /[/\\\0]/.test(name)) {
      throw new Error(
        `pairs.txt line ${line}: identity name ${JSON.stringify(name)} is not a plain folder name (no path separators, "." or "..")`,
      );
    }
    const i = decimal(idx);
    if (!Number.isInteger(i) || i < 1)
      throw new Error(`pairs.txt line ${line}: image number "${idx}" is not a positive integer`);
    return path.join(root, name, `${name}_${String(i).padStart(4, '0')}.jpg`);
  };
  const out: LfwPair[] = [];
  for (let f = 0; f < folds; f++) {
    for (let k = 0; k < 2 * n; k++) {
      const lineNo = 2 + f * 2 * n + k;
      const parts = lines[lineNo - 1].split(/\s+/);
      const same = k < n;
      if (same && parts.length !== 3)
        throw new Error(`pairs.txt line ${lineNo}: a matched pair needs "name i j", got "${lines[lineNo - 1]}"`);
      if (!same && parts.length !== 4)
        throw new Error(
          `pairs.txt line ${lineNo}: a mismatched pair needs "name1 i name2 j", got "${lines[lineNo - 1]}"`,
        );
      if (same && Number(parts[1]) === Number(parts[2])) {
        throw new Error(
          `pairs.txt line ${lineNo}: a matched pair of image ${parts[1]} with itself ("${lines[lineNo - 1]}") would count a trivially perfect match`,
        );
      }
      if (!same && parts[0] === parts[2]) {
        throw new Error(
          `pairs.txt line ${lineNo}: a mismatched pair must name two identities, got ${JSON.stringify(parts[0])} twice ("${lines[lineNo - 1]}")`,
        );
      }
      out.push(
        same
          ? { fileA: img(parts[0], parts[1], lineNo), fileB: img(parts[0], parts[2], lineNo), same: true, fold: f }
          : { fileA: img(parts[0], parts[1], lineNo), fileB: img(parts[2], parts[3], lineNo), same: false, fold: f },
      );
    }
  }
  return out;
}
