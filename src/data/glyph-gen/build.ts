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
import { spawn } from 'child_process';
import { discoverFaces, ExcludedFace, FontFace } from './fonts';
import { DEFAULT_JITTER, JitterRange } from './compose';
import type { RenderJob, RenderResult } from './render-face';
import { GLYPH_FILES, GlyphMeta, hangulSyllables } from '../glyphs';
import { encodeIdx } from '../idx';
import { dataDir } from '../dataset';
import { Rng } from '../../util/random';
import { writeFileAtomic } from '../../util/fs';

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

export async function buildGlyphSet(o: BuildOptions): Promise<GlyphMeta> {
  const log = o.log ?? ((l: string) => console.log(l));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyphs-'));
  try {
    const { faces: candidates, excluded } = discoverFaces();
    log(`faces: ${candidates.length} cover all 2,350 syllables and can be selected (${excluded.length} left out)`);
    if (candidates.length === 0)
      throw new Error('no usable Korean font face is installed; see data/hangul-glyphs/README.md for the apt line');

    // Duplicates, from centred renders of a fixed probe set.
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
    const meta: GlyphMeta = {
      format: 'margin-lab-hangul-glyphs',
      version: 1,
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
    fs.mkdirSync(o.out, { recursive: true });
    writeFileAtomic(path.join(o.out, GLYPH_FILES.images), gz(encodeIdx([n, o.size, o.size], images)));
    writeFileAtomic(path.join(o.out, GLYPH_FILES.labels), gz(encodeIdx([n], labels)));
    writeFileAtomic(path.join(o.out, GLYPH_FILES.faces), gz(encodeIdx([n], faceIds)));
    writeFileAtomic(path.join(o.out, GLYPH_FILES.meta), JSON.stringify(meta, null, 1) + '\n');
    log(`wrote ${n} samples (${syllables.length} syllables × ${chosen.length} faces) to ${o.out}`);
    return meta;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
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
  const probe = count('--probe', String(values.probe));
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
    jobs: jobs as number,
    probe: probe as number,
    dupThreshold,
    jitter: DEFAULT_JITTER,
  });
}

if (require.main === module) {
  main().catch((e: Error) => {
    console.error(`error: ${e.message}`);
    process.exit(1);
  });
}
