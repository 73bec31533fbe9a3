import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';

export interface WriteAtomicOptions {
  /**
   * Checks the bytes read back from the temp file before it replaces the target (e.g. that a
   * checkpoint parses as JSON); throw to keep the old file.
   */
  verify?: (written: Buffer) => void;
}

/** The disk (or quota) is full: the new file was not written and the old one is kept. */
export class DiskFullError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(
      `disk full: could not write ${file} (${detail}); ${fs.existsSync(file) ? 'the previous file is kept unchanged' : 'nothing was written'}. Free some space and try again.`,
    );
    this.name = 'DiskFullError';
  }
}

/**
 * Writes a file so that readers see either the old or the new content, never a half-written
 * one: write to a temp file in the same folder (looping over short writes), fsync, check the
 * temp file's size (and `verify` its bytes), then rename it over the target. On any failure the
 * temp file is removed and the target is left as it was; ENOSPC / EDQUOT become `DiskFullError`.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteAtomicOptions = {}): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error(`cannot write ${file}: it is a folder`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    let done = 0;
    while (done < bytes.length) {
      const n = fs.writeSync(fd, bytes, done, bytes.length - done);
      if (!(n > 0))
        throw Object.assign(new Error(`write returned ${n} after ${done} of ${bytes.length} bytes`), {
          code: 'ENOSPC',
        });
      done += n;
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const size = fs.statSync(tmp).size;
    if (size !== bytes.length) throw new Error(`the temp file has ${size} bytes, expected ${bytes.length}`);
    if (options.verify) options.verify(fs.readFileSync(tmp));
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new DiskFullError(file, (e as Error).message);
    throw e;
  }
  fs.renameSync(tmp, file);
}
