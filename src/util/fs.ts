import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import * as os from 'os';

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

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files an earlier writer of the same target left behind when it was killed
 * mid-write (SIGKILL, power loss): `.<name>.<pid>.<hex>.tmp` whose process no longer runs. Temp
 * files of a writer that is still running are left alone. Returns the names removed.
 */
export function removeStaleTemps(file: string): string[] {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  const prefix = `.${base}.`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // another writer removed it first
    }
  }
  return removed;
}

/**
 * Writes a file so that readers see either the old or the new content, never a half-written
 * one: write to a temp file in the same folder (looping over short writes), fsync, check the
 * temp file's size (and `verify` its bytes), then rename it over the target. On any failure the
 * temp file is removed and the target is left as it was; ENOSPC / EDQUOT become `DiskFullError`.
 * Stale temp files of the same target, left by a writer that was killed, are removed first.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteAtomicOptions = {}): void {
  fs.renameSync(stageFile(file, data, options), file);
}

/**
 * Writes several files so that they change together or not at all: each is written to its temp
 * file first (as {@link writeFileAtomic} does, fsynced and checked); only when every one is
 * written are they renamed over their targets. A failure while writing (a full disk) removes the
 * temp files and leaves every target as it was. (The renames themselves need no space.)
 */
export function writeFilesTogether(files: Array<[file: string, data: string | Uint8Array]>): void {
  const staged: Array<[tmp: string, file: string]> = [];
  try {
    for (const [file, data] of files) staged.push([stageFile(file, data), file]);
  } catch (e) {
    for (const [tmp] of staged) fs.rmSync(tmp, { force: true });
    throw e;
  }
  for (const [tmp, file] of staged) fs.renameSync(tmp, file);
}

/** {@link writeFileAtomic} up to the rename: returns the written, checked temp file. */
function stageFile(file: string, data: string | Uint8Array, options: WriteAtomicOptions = {}): string {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) throw new Error(`cannot write ${file}: it is a folder`);
  removeStaleTemps(file);
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
  return tmp;
}

/** Hex SHA-256 of bytes (the sums checkpoints, model.json files and glyph sets record). */
export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** What a run folder's lock file holds. */
interface LockInfo {
  pid: number;
  host: string;
  started: string;
}

/**
 * Takes the lock of a folder that one process writes at a time (a run folder): creates
 * `<dir>/.lock` exclusively with this process's id. A lock held by a live process is an error that
 * names it; one left by a process that is gone (killed) is taken over, and `onStale` is told.
 * Returns the function that releases it (also called at the process's exit).
 */
export function lockFolder(dir: string, what: string, onStale?: (line: string) => void): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, '.lock');
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx' });
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.removeListener('exit', release);
        try {
          const held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
          if (held.pid === mine.pid && held.started === mine.started) fs.rmSync(file, { force: true });
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let held: LockInfo | null = null;
    try {
      held = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
    } catch {
      held = null; // unreadable: written by a process killed mid-write
    }
    const sameHost = held !== null && held.host === os.hostname();
    // Held by this process already (the CLI around train()): the outer holder releases it.
    if (held && sameHost && held.pid === process.pid) return () => {};
    if (held && Number.isInteger(held.pid) && (!sameHost || processAlive(held.pid)))
      throw new Error(
        `${what} ${dir} is in use by process ${held.pid}${sameHost ? '' : ` on ${held.host}`} (since ${held.started}); two writers would mix their files. Wait for it to finish or stop it${sameHost ? '' : `; if that machine no longer runs it, delete ${file}`}`,
      );
    onStale?.(
      `${what} ${dir}: taking over the lock of process ${held?.pid ?? '(unreadable lock file)'}, which is no longer running`,
    );
    fs.rmSync(file, { force: true });
  }
  throw new Error(`${what} ${dir}: another process took its lock at the same moment; try again`);
}

/**
 * Removes the temp files that writers killed mid-save left in a folder and its `model/` (any
 * target: a save's binaries get a new name each time, so {@link removeStaleTemps} of the next
 * save never meets them). Only files of processes that no longer run. Returns their paths,
 * relative to `dir`.
 */
export function removeStaleFolderTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const sub of ['', 'model']) {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, sub));
    } catch {
      continue;
    }
    for (const name of names) {
      const m = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name);
      if (!m) continue;
      const pid = Number(m[1]);
      if (pid === process.pid || processAlive(pid)) continue;
      try {
        fs.rmSync(path.join(dir, sub, name), { force: true });
        removed.push(path.join(sub, name));
      } catch {
        // removed by another process first
      }
    }
  }
  return removed;
}

/** The error for a file whose bytes are not the ones its manifest records (a checkpoint, a model.json). */
export function checksumError(who: string, file: string, rel: string, got: string, want: string): Error {
  return new Error(
    `${who} ${file}: ${rel} does not match the SHA-256 it records (${got.slice(0, 12)}…, recorded ${want.slice(0, 12)}…): the file was changed or corrupted after it was written. Restore it from a copy, or train the run again`,
  );
}
