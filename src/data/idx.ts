/**
 * Reader for the IDX format of (Fashion-)MNIST: magic 0x0000 | type | ndim, then ndim
 * big-endian uint32 sizes, then the data. Only unsigned-byte data (type 0x08) is used by these
 * files. Gzipped files (.gz) are inflated first. Every structural problem is reported with the
 * file name and what was expected, never read past or padded.
 */
import * as fs from 'fs';
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

/** Parses an (uncompressed) IDX buffer. `name` labels error messages. */
export function parseIdx(buf: Uint8Array, name = 'IDX data'): IdxArray {
  if (buf.length < 4) throw new DataFileError(`${name}: ${buf.length} bytes is too short for an IDX header (need at least 4)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DataFileError(`${name}: bad magic number 0x${hex(buf[0])}${hex(buf[1])}${hex(buf[2])}${hex(buf[3])}; an IDX file starts with 0x0000 then the type and rank (e.g. 0x00000803 for images)`);
  }
  if (buf[2] !== 0x08) throw new DataFileError(`${name}: data type 0x${hex(buf[2])} is not supported; expected 0x08 (unsigned byte)`);
  const ndim = buf[3];
  if (ndim < 1 || ndim > 4) throw new DataFileError(`${name}: rank ${ndim} is not a plausible IDX rank (expected 1 to 4)`);
  const headerLen = 4 + 4 * ndim;
  if (buf.length < headerLen) throw new DataFileError(`${name}: truncated header: ${buf.length} bytes, need ${headerLen} for ${ndim} dimensions`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const have = buf.length - headerLen;
  if (have !== count) {
    throw new DataFileError(`${name}: header declares dimensions [${dims.join(', ')}] = ${count} bytes of data, but the file has ${have}${have < count ? ' (truncated?)' : ' (trailing bytes)'}`);
  }
  return { dims, data: buf.subarray(headerLen) };
}

/** Reads an IDX file, gunzipping `.gz` files. */
export function readIdxFile(file: string): IdxArray {
  if (!fs.existsSync(file)) throw new DataFileError(`${file}: file not found`);
  let buf: Uint8Array = fs.readFileSync(file);
  if (file.endsWith('.gz')) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataFileError(`${file}: not a valid gzip file (${(e as Error).message}); re-copy it from the dataset package`);
    }
  }
  return parseIdx(buf, file);
}

function hex(v: number | undefined): string {
  return (v ?? 0).toString(16).padStart(2, '0');
}
