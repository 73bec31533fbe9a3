/**
 * Reader for the IDX format of (Fashion-)MNIST: magic 0x0000 | type | ndim, then ndim
 * big-endian uint32 sizes, then the data. Only unsigned-byte data (type 0x08) is used by these
 * files. Gzipped files (.gz) are inflated first. Every structural problem is reported with the
 * file name and what was expected, never read past or padded.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as zlib from 'zlib';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export class DataFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataFileError';
  }
}

/** IDX data types margin-lab reads and writes: unsigned bytes, and big-endian 16-bit integers. */
export const IDX_UINT8 = 0x08;
export const IDX_INT16 = 0x0b;

/** Parses an (uncompressed) IDX buffer of unsigned bytes. `name` labels error messages. */
export function parseIdx(buf: Uint8Array, name = 'IDX data'): IdxArray {
  const { dims, data } = parseIdxTyped(buf, name, IDX_UINT8);
  return { dims, data: data as Uint8Array };
}

/** Parses an (uncompressed) IDX buffer of the given type: uint8 → Uint8Array, int16 → Int16Array. */
export function parseIdxTyped(
  buf: Uint8Array,
  name: string,
  type: typeof IDX_UINT8 | typeof IDX_INT16,
): { dims: number[]; data: Uint8Array | Int16Array } {
  if (!(buf instanceof Uint8Array))
    throw new DataFileError(
      `${name}: expected the file's bytes (a Buffer or Uint8Array), got ${buf === null ? 'null' : typeof buf}`,
    );
  if (buf.length < 4)
    throw new DataFileError(`${name}: ${buf.length} bytes is too short for an IDX header (need at least 4)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DataFileError(
      `${name}: bad magic number 0x${hex(buf[0])}${hex(buf[1])}${hex(buf[2])}${hex(buf[3])}; an IDX file starts with 0x0000 then the type and rank (e.g. 0x00000803 for images)`,
    );
  }
  if (buf[2] !== type) {
    throw new DataFileError(
      `${name}: data type 0x${hex(buf[2])} is not supported; expected 0x${hex(type)} (${type === IDX_UINT8 ? 'unsigned byte' : '16-bit integer'})`,
    );
  }
  const size = type === IDX_INT16 ? 2 : 1;
  const ndim = buf[3];
  if (ndim < 1 || ndim > 4)
    throw new DataFileError(`${name}: rank ${ndim} is not a plausible IDX rank (expected 1 to 4)`);
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen)
    throw new DataFileError(`${name}: truncated header: ${buf.length} bytes, need ${headerLen} for ${ndim} dimensions`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1) * size;
  const have = buf.length - headerLen;
  if (have !== count) {
    throw new DataFileError(
      `${name}: header declares dimensions [${dims.join(', ')}] = ${count} bytes of data, but the file has ${have}${have < count ? ' (truncated?)' : ' (trailing bytes)'}`,
    );
  }
  if (type === IDX_UINT8) return { dims, data: buf.subarray(headerLen) };
  const out = new Int16Array(count / 2);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(headerLen + 2 * i, false);
  return { dims, data: out };
}

/** Encodes an IDX buffer (uint8 data, or int16 written big-endian). */
export function encodeIdx(dims: number[], data: Uint8Array | Int16Array): Uint8Array {
  const type = data instanceof Int16Array ? IDX_INT16 : IDX_UINT8;
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new Error(`encodeIdx: dimensions [${dims.join(', ')}] hold ${count} values, data has ${data.length}`);
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + data.length * data.BYTES_PER_ELEMENT);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  if (data instanceof Int16Array) data.forEach((v, i) => view.setInt16(headerLen + 2 * i, v, false));
  else out.set(data, headerLen);
  return out;
}

/** Reads an IDX file of unsigned bytes, gunzipping `.gz` files. */
export function readIdxFile(file: string, opts: ReadIdxOptions = {}): IdxArray {
  return parseIdx(readIdxBytes(file, opts), file);
}

/** Limits for reading an IDX file. */
export interface ReadIdxOptions {
  /**
   * The most bytes (header + data, inflated) the file may hold; a header declaring more is refused
   * before anything is inflated. Default: {@link defaultIdxLimit}. Loaders of a known data set pass
   * its exact size, so a damaged or hostile header cannot make them allocate more.
   */
  maxBytes?: number;
  /** What the limit is, for the error message (e.g. "Fashion-MNIST's 60,000 training images"). */
  limitReason?: string;
}

/** The default cap: 2 GiB or a quarter of this machine's memory, whichever is smaller. */
export function defaultIdxLimit(): number {
  return Math.min(MAX_IDX_BYTES, Math.floor(os.totalmem() / 4));
}

/** The largest IDX payload margin-lab will inflate (2 GiB). */
export const MAX_IDX_BYTES = 2 ** 31 - 1;

/**
 * The total size an IDX header declares (header + data), checked before any data is inflated:
 * rank 1–4, no zero dimension, at most MAX_IDX_BYTES. `head` is at least the header's bytes.
 */
export function idxDeclaredSize(head: Uint8Array, name: string): number {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return -1; // parseIdx reports the bad magic
  const size = head[2] === IDX_INT16 ? 2 : 1;
  const ndim = head[3];
  if (ndim < 1 || ndim > 4 || head.length < 4 + 4 * ndim) return -1;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let count = size;
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    if (d === 0)
      throw new DataFileError(
        `${name}: the header declares a zero dimension [${dims.join(', ')}…]; an IDX file needs at least one value per axis`,
      );
    count *= d;
  }
  if (count > MAX_IDX_BYTES)
    throw new DataFileError(
      `${name}: the header declares dimensions [${dims.join(', ')}] = ${count} bytes, more than the ${MAX_IDX_BYTES} margin-lab reads; not a data file for this project?`,
    );
  return 4 + 4 * ndim + count;
}

/**
 * The raw (inflated) bytes of an IDX file. A `.gz` file's header is inflated and checked first;
 * the rest is inflated with a cap of the size the header declares, so a damaged or hostile
 * file (a "gzip bomb") fails fast instead of filling memory.
 */
export function readIdxBytes(file: string, opts: ReadIdxOptions = {}): Uint8Array {
  const limit = opts.maxBytes ?? defaultIdxLimit();
  if (!(Number.isSafeInteger(limit) && limit > 0))
    throw new RangeError(`readIdxBytes: maxBytes must be a positive integer, got ${String(opts.maxBytes)}`);
  const reason =
    opts.limitReason ?? `the ${limit} bytes margin-lab reads on this machine (2 GiB or a quarter of its memory)`;
  if (!fs.existsSync(file)) throw new DataFileError(`${file}: file not found`);
  if (fs.statSync(file).isDirectory()) throw new DataFileError(`${file}: is a folder, expected an IDX file`);
  let buf: Uint8Array = fs.readFileSync(file);
  if (file.endsWith('.gz')) {
    let head: Uint8Array;
    try {
      head = zlib.gunzipSync(buf.subarray(0, Math.min(buf.length, 4096)), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new DataFileError(
        `${file}: not a valid gzip file (${(e as Error).message}); re-copy it from the dataset package`,
      );
    }
    const declared = idxDeclaredSize(head, file);
    if (declared > limit)
      throw new DataFileError(
        `${file}: the header declares ${declared} bytes, more than ${reason}; refused before inflating (a damaged header, or the wrong file?)`,
      );
    try {
      buf = zlib.gunzipSync(buf, declared > 0 ? { maxOutputLength: declared + 1 } : {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new DataFileError(
          `${file}: inflates to more than the ${declared} bytes its IDX header declares (trailing data, or not an IDX file)`,
        );
      }
      throw new DataFileError(
        `${file}: not a valid gzip file (${(e as Error).message}); re-copy it from the dataset package`,
      );
    }
  } else {
    const declared = idxDeclaredSize(buf.subarray(0, 20), file);
    if (declared > limit)
      throw new DataFileError(`${file}: the header declares ${declared} bytes, more than ${reason}`);
  }
  return buf;
}

function hex(v: number | undefined): string {
  return (v ?? 0).toString(16).padStart(2, '0');
}
