#!/usr/bin/env node
/**
 * `npm run data:glyphs`: builds the Hangul glyph-identity set from the installed Korean fonts.
 *
 *   1. faces: every face that covers the 2,350 KS X 1001 syllables and that Pango can select
 *      exactly (fonts.ts);
 *   2. duplicates: each face draws `--probe` syllables without jitter; a face whose drawings
 *      match an earlier face's (mean absolute difference below `--dup-threshold` grey levels) is
 *      dropped — e.g. the JP/KR/SC/TC/HK members of Noto CJK share their Hangul;
 *   3. choice: classes are the syllables in one seeded order (class k of a subset is class k of
 *      the full set); `--faces N` takes N distinct faces in a seeded order;
 *   4. samples: one per (syllable, face), with a jitter drawn from (seed, syllable, face) alone,
 *      so a sample is the same bytes in every subset. A face that draws any chosen syllable
 *      blank is dropped and the next face in the seeded order takes its place.
 *
 * Each face renders in its own process (sharp's fontfile registration is sticky), `--jobs` at
 * a time. Output: gzip IDX images / labels / face ids and meta.json (see src/data/glyphs.ts).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { parseArgs } from 'util';
import { ChildProcess, spawn } from 'child_process';
import { discoverFaces, ExcludedFace, FontFace } from './fonts';
import { DEFAULT_JITTER, JitterRange } from './compose';
import type { RenderJob, RenderResult } from './render-face';
import { GLYPH_FILES, GlyphMeta, hangulSyllables, loadHangulGlyphs } from '../glyphs';
import { encodeIdx } from '../idx';
import { dataDir } from '../dataset';
import { Rng } from '../../util/random';
import { sha256Hex, writeFileAtomic } from '../../util/fs';

export interface BuildOptions {
  out: string;
  /** Number of syllables (classes), or 'all' (2,350). */
  syllables: number | 'all';
  /** Number of distinct faces, or 'all'. */
  faces: number | 'all';
  seed: number;
  size: number;
  jobs: number;
  probe: number;
  dupThreshold: number;
  jitter: JitterRange;
  log?: (line: string) => void;
}

/** The syllables in the set's seeded class order. */
export function classOrder(seed: number): string[] {
  return new Rng(seed * 7919 + 1).shuffle(hangulSyllables()) as string[];
}

function runJob(job: RenderJob): Promise<{ result: RenderResult; pixels: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'render-face.js'), JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    inProgress.children.add(child);
    child.on('exit', () => inProgress.children.delete(child));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`rendering ${job.faceId} failed (exit ${code}): ${err.trim()}`));
      try {
        const result = JSON.parse(out.trim().split('\n').pop()!) as RenderResult;
        const pixels = fs.readFileSync(job.out);
        fs.rmSync(job.out, { force: true });
        resolve({ result, pixels });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Runs `fn` over `items`, `jobs` at a time, keeping the results in order. */
async function pool<T, R>(items: T[], jobs: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return out;
}

/** The sibling folders a build of `out` uses: `.NAME.partial-PID` while writing, `.NAME.old-PID` while swapping. */
function siblings(out: string): { parent: string; partial: string; old: string; pattern: RegExp } {
  const parent = path.dirname(out);
  const base = path.basename(out);
  const esc = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    parent,
    partial: path.join(parent, `.${base}.partial-${process.pid}`),
    old: path.join(parent, `.${base}.old-${process.pid}`),
    pattern: new RegExp(`^\\.${esc}\\.(partial|old)-(\\d+)$`),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Before a build of `out`: refuses an `out` that is not a glyph set (so a wrong --out never
 * replaces a user's folder), refuses a build already running into it, and cleans what an
 * interrupted build left: its partial folder, and the previous set moved aside mid-swap (put back
 * when `out` is missing, removed otherwise).
 */
export function prepareGlyphOut(out: string, log: (line: string) => void = () => {}): void {
  const { parent, pattern } = siblings(out);
  if (fs.existsSync(parent)) {
    for (const name of fs.readdirSync(parent)) {
      const m = pattern.exec(name);
      if (!m) continue;
      const pid = Number(m[2]);
      const full = path.join(parent, name);
      if (pid !== process.pid && alive(pid))
        throw new Error(`${out}: another build (pid ${pid}) is writing it (${full}); wait for it or stop it first`);
      if (m[1] === 'old' && !fs.existsSync(out)) {
        fs.renameSync(full, out);
        log(`restored ${out} from an interrupted build's swap`);
      } else {
        fs.rmSync(full, { recursive: true, force: true });
        log(`removed ${full}, left by an interrupted build`);
      }
    }
  }
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new Error(`--out ${out}: exists and is not a folder`);
  const entries = fs.readdirSync(out);
  if (entries.length === 0) return;
  if (!entries.includes(GLYPH_FILES.meta))
    throw new Error(
      `--out ${out}: the folder holds files and no glyph set (no ${GLYPH_FILES.meta}); a rebuild replaces a glyph set only. Pick a new or empty folder`,
    );
  try {
    const m = JSON.parse(fs.readFileSync(path.join(out, GLYPH_FILES.meta), 'utf8')) as { format?: unknown };
    if (m.format !== 'margin-lab-hangul-glyphs') throw new Error(`format ${JSON.stringify(m.format)}`);
  } catch (e) {
    throw new Error(
      `--out ${out}: ${GLYPH_FILES.meta} there is not a margin-lab glyph set's (${(e as Error).message}); a rebuild replaces a glyph set only`,
    );
  }
}

/**
 * Installs a built set at `out` without ever leaving a mix: the files go to a sibling partial
 * folder, which is loaded and checked, gets copies of every other file `out` holds (such as the
 * shipped set's README.md), and then replaces `out` by two renames on the same file system.
 */
export function installGlyphSet(
  out: string,
  meta: GlyphMeta,
  data: Record<'images' | 'labels' | 'faces', Uint8Array>,
  log: (line: string) => void = () => {},
): void {
  prepareGlyphOut(out, log);
  const { partial, old } = siblings(out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.mkdirSync(partial);
  try {
    for (const key of ['images', 'labels', 'faces'] as const)
      writeFileAtomic(path.join(partial, GLYPH_FILES[key]), data[key]);
    writeFileAtomic(path.join(partial, GLYPH_FILES.meta), JSON.stringify(meta, null, 1) + '\n');
    loadHangulGlyphs({ dir: partial }); // verified before it replaces anything
    const owned = new Set<string>(Object.values(GLYPH_FILES));
    if (fs.existsSync(out))
      for (const name of fs.readdirSync(out))
        if (!owned.has(name))
          fs.cpSync(path.join(out, name), path.join(partial, name), { recursive: true, preserveTimestamps: true });
  } catch (e) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw e;
  }
  // The swap: synchronous, so no signal handler runs between the two renames.
  if (fs.existsSync(out)) {
    fs.renameSync(out, old);
    fs.renameSync(partial, out);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(partial, out);
  }
}

/** The partial folder and render temp folder of the build in progress, for the SIGINT handler. */
const inProgress = {
  partial: null as string | null,
  tmp: null as string | null,
  installed: null as string | null,
  children: new Set<ChildProcess>(),
};

export async function buildGlyphSet(o: BuildOptions): Promise<GlyphMeta> {
  const log = o.log ?? ((l: string) => console.log(l));
  prepareGlyphOut(o.out, log); // refuse a wrong --out before minutes of rendering
  inProgress.partial = siblings(o.out).partial;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyphs-'));
  inProgress.tmp = tmp;
  try {
    const { faces: candidates, excluded } = discoverFaces();
    log(`faces: ${candidates.length} cover all 2,350 syllables and can be selected (${excluded.length} left out)`);
    if (candidates.length === 0)
      throw new Error('no usable Korean font face is installed; see data/hangul-glyphs/README.md for the apt line');

    // Duplicates, from centered renders of a fixed probe set.
    const probeSet = classOrder(o.seed + 1).slice(0, o.probe);
    const job = (f: FontFace, syllables: string[], jitter: JitterRange | null, tag: string): RenderJob => ({
      file: f.file,
      family: f.family,
      pangoWeight: f.pangoWeight,
      faceId: f.id,
      syllables,
      size: o.size,
      jitter,
      seed: o.seed,
      out: path.join(tmp, `${tag}-${candidates.indexOf(f)}.bin`),
    });
    const probes = await pool(candidates, o.jobs, (f) => runJob(job(f, probeSet, null, 'probe')));
    const distinct: FontFace[] = [];
    const kept: Buffer[] = [];
    const allExcluded: ExcludedFace[] = [...excluded];
    for (const [i, f] of candidates.entries()) {
      const px = probes[i].pixels;
      if (probes[i].result.blank.length) {
        allExcluded.push({
          id: f.id,
          family: f.family,
          style: f.style,
          reason: `draws ${probes[i].result.blank.join(' ')} blank`,
        });
        continue;
      }
      let dupOf = -1;
      let best = Infinity;
      for (const [k, q] of kept.entries()) {
        let d = 0;
        for (let p = 0; p < px.length; p++) d += Math.abs(px[p] - q[p]);
        d /= px.length;
        if (d < best) best = d;
        if (d < o.dupThreshold) {
          dupOf = k;
          break;
        }
      }
      if (dupOf >= 0) {
        allExcluded.push({
          id: f.id,
          family: f.family,
          style: f.style,
          reason: `duplicates ${distinct[dupOf].id} (${distinct[dupOf].family} ${distinct[dupOf].style})`,
        });
        continue;
      }
      distinct.push(f);
      kept.push(px);
    }
    log(`distinct faces: ${distinct.length}`);

    const syllables = o.syllables === 'all' ? classOrder(o.seed) : classOrder(o.seed).slice(0, o.syllables);
    const wanted = o.faces === 'all' ? distinct.length : o.faces;
    if (wanted > distinct.length)
      throw new Error(`--faces ${wanted}: only ${distinct.length} distinct faces are installed`);
    const faceOrder =
      o.faces === 'all' ? distinct.slice() : (new Rng(o.seed * 31 + 5).shuffle(distinct.slice()) as FontFace[]);

    // Render the chosen syllables; a face with a blank drawing is replaced by the next one.
    const chosen: Array<{ face: FontFace; pixels: Buffer }> = [];
    let cursor = 0;
    while (chosen.length < wanted && cursor < faceOrder.length) {
      const batch = faceOrder.slice(cursor, cursor + (wanted - chosen.length));
      cursor += batch.length;
      const t0 = Date.now();
      const rendered = await pool(batch, o.jobs, async (f, i) => {
        const r = await runJob(job(f, syllables, o.jitter, 'faces'));
        log(
          `  ${f.family} ${f.style} (${chosen.length + i + 1}/${wanted}): ${r.result.count} syllables${r.result.blank.length ? `, blank: ${r.result.blank.join(' ')}` : ''}`,
        );
        return r;
      });
      for (const [i, f] of batch.entries()) {
        if (rendered[i].result.blank.length)
          allExcluded.push({
            id: f.id,
            family: f.family,
            style: f.style,
            reason: `draws ${rendered[i].result.blank.join(' ')} blank`,
          });
        else chosen.push({ face: f, pixels: rendered[i].pixels });
      }
      log(`rendered ${batch.length} faces in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (chosen.length < wanted && o.faces !== 'all')
      throw new Error(`only ${chosen.length} faces draw every chosen syllable; asked for ${wanted}`);
    chosen.sort((a, b) => (a.face.id < b.face.id ? -1 : 1));

    // Samples ordered by class, then face.
    const S = o.size * o.size;
    const n = syllables.length * chosen.length;
    const images = new Uint8Array(n * S);
    const labels = new Int16Array(n);
    const faceIds = new Int16Array(n);
    for (let c = 0; c < syllables.length; c++) {
      for (let f = 0; f < chosen.length; f++) {
        const i = c * chosen.length + f;
        images.set(chosen[f].pixels.subarray(c * S, (c + 1) * S), i * S);
        labels[i] = c;
        faceIds[i] = f;
      }
    }
    const packages: Record<string, string> = {};
    for (const { face } of chosen) if (face.package) packages[face.package] = face.version;
    const metaBody: Omit<GlyphMeta, 'files'> = {
      format: 'margin-lab-hangul-glyphs',
      version: 2,
      syllables,
      faces: chosen.map(({ face: f }) => ({
        id: f.id,
        file: f.file,
        index: f.index,
        family: f.family,
        style: f.style,
        weight: f.weight,
        package: f.package,
        version: f.version,
      })),
      excluded: allExcluded,
      seed: o.seed,
      size: o.size,
      jitter: o.jitter,
      samples: n,
      packages,
      subset: { syllables: syllables.length, faces: chosen.length, of: { syllables: 2350, faces: distinct.length } },
    };
    const gz = (b: Uint8Array) => zlib.gzipSync(b, { level: 9 });
    const data = {
      images: gz(encodeIdx([n, o.size, o.size], images)),
      labels: gz(encodeIdx([n], labels)),
      faces: gz(encodeIdx([n], faceIds)),
    };
    const record = (b: Uint8Array) => ({
      bytes: b.length,
      sha256: sha256Hex(b),
    });
    const meta: GlyphMeta = {
      ...metaBody,
      files: { images: record(data.images), labels: record(data.labels), faces: record(data.faces) },
    };
    installGlyphSet(o.out, meta, data, log);
    inProgress.installed = o.out;
    log(`wrote ${n} samples (${syllables.length} syllables × ${chosen.length} faces) to ${o.out}`);
    return meta;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    inProgress.tmp = null;
    inProgress.partial = null;
  }
}

const USAGE = `usage: npm run data:glyphs -- [flags]
Builds the Hangul glyph-identity set from the installed Korean fonts.

  --syllables N|all   classes (default 1000, the shipped subset; all = 2,350)
  --faces N|all       distinct font faces (default 40; all = every distinct face)
  --out DIR           output folder (default data/hangul-glyphs, or data/hangul-glyphs-full with --full)
  --full              the whole set: --syllables all --faces all
  --seed N            seed for the class order, face choice and jitter (default 1)
  --jobs N            faces rendered at once (default: cores)
  --probe N           syllables compared to find duplicate faces (default 80)
  --dup-threshold X   mean absolute difference (grey levels) under which two faces are duplicates (default 1)
  --help`;

function count(flag: string, raw: string): number | 'all' {
  if (raw === 'all') return 'all';
  const n = Number(raw);
  if (!(/^\d+$/.test(raw) && n >= 1))
    throw new Error(`${flag} must be a positive integer or all, got ${JSON.stringify(raw)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      syllables: { type: 'string', default: '1000' },
      faces: { type: 'string', default: '40' },
      out: { type: 'string' },
      full: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      jobs: { type: 'string', default: String(os.cpus().length) },
      probe: { type: 'string', default: '80' },
      'dup-threshold': { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const syllables = values.full ? 'all' : count('--syllables', String(values.syllables));
  const faces = values.full ? 'all' : count('--faces', String(values.faces));
  if (typeof syllables === 'number' && syllables > 2350)
    throw new Error(`--syllables ${syllables}: there are 2,350 syllables`);
  const seed = Number(values.seed);
  if (!(/^\d+$/.test(String(values.seed)) && Number.isSafeInteger(seed)))
    throw new Error(`--seed must be an integer ≥ 0, got ${JSON.stringify(values.seed)}`);
  const jobs = count('--jobs', String(values.jobs));
  if (jobs === 'all')
    throw new Error(
      `--jobs all: expected a number of faces to render at once (this machine has ${os.cpus().length} cores)`,
    );
  // --probe all compares every syllable (2,350), not none.
  const probeRaw = count('--probe', String(values.probe));
  const probe = probeRaw === 'all' ? 2350 : probeRaw;
  if (probe > 2350) throw new Error(`--probe ${probe}: there are 2,350 syllables to compare`);
  const dupThreshold = Number(values['dup-threshold']);
  if (!(dupThreshold >= 0))
    throw new Error(`--dup-threshold must be a number ≥ 0, got ${JSON.stringify(values['dup-threshold'])}`);
  const out = path.resolve(values.out ?? path.join(dataDir(), values.full ? 'hangul-glyphs-full' : 'hangul-glyphs'));
  await buildGlyphSet({
    out,
    syllables,
    faces,
    seed,
    size: 32,
    jobs,
    probe,
    dupThreshold,
    jitter: DEFAULT_JITTER,
  });
}

if (require.main === module) {
  // Ctrl-C: the folder is either untouched or already swapped (the swap is synchronous); remove
  // the partial folder and the renders, stop the renderers, and say so in one line.
  process.on('SIGINT', () => {
    for (const c of inProgress.children) c.kill('SIGKILL');
    if (inProgress.partial) fs.rmSync(inProgress.partial, { recursive: true, force: true });
    if (inProgress.tmp) fs.rmSync(inProgress.tmp, { recursive: true, force: true });
    console.error(
      inProgress.installed
        ? `interrupted after the new set was installed in ${inProgress.installed}`
        : 'interrupted: nothing was replaced; the output folder holds what it held before',
    );
    process.exit(130);
  });
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
