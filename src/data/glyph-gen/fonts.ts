/**
 * The font faces that can draw the 2,350 KS X 1001 Hangul syllables, found through fontconfig.
 *
 * A face is a file plus a collection index (a .ttc holds several). Text is rendered by sharp
 * (libvips → Pango → fontconfig), which chooses a face by family and weight, never by file, and
 * silently falls back to another Korean font when the request does not match. So a face is used
 * only when `fc-match family:weight=W` resolves to that very file and index; faces that share a
 * family and weight with another (e.g. NanumGothicEco.ttf and NanumGothicEcoR.ttf) cannot be
 * told apart by Pango and only the one fontconfig prefers is kept.
 */
import { spawnSync } from 'child_process';
import { GlyphFaceMeta, hangulSyllables } from '../glyphs';

/** A usable face: what meta.json records, plus the Pango weight word that selects it. */
export interface FontFace extends GlyphFaceMeta {
  /** Pango weight word used in the font description ('' for regular). */
  pangoWeight: string;
}

export interface ExcludedFace {
  id: string;
  family: string;
  style: string;
  reason: string;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error)
    throw new Error(`${cmd} could not run (${r.error.message}); install fontconfig (apt-get install fontconfig)`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Pango's weight words and the fontconfig weight each one asks for. */
const PANGO_WEIGHTS: Array<[string, number]> = [
  ['Thin', 0],
  ['Ultra-Light', 40],
  ['Light', 50],
  ['Semi-Light', 55],
  ['Book', 75],
  ['', 80],
  ['Medium', 100],
  ['Semi-Bold', 180],
  ['Bold', 200],
  ['Ultra-Bold', 205],
  ['Heavy', 210],
];

function nearestPangoWeight(fcWeight: number): [string, number] {
  let best = PANGO_WEIGHTS[0];
  for (const w of PANGO_WEIGHTS) if (Math.abs(w[1] - fcWeight) < Math.abs(best[1] - fcWeight)) best = w;
  return best;
}

/** Parses fontconfig's charset text ("20-7e a0 ac00-d7a3 ...") and tests it for every code point. */
export function coversAll(charset: string, codes: number[]): number[] {
  const ranges = charset
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((r) => r.split('-').map((h) => parseInt(h, 16)))
    .map(([a, b]) => [a, b ?? a] as [number, number]);
  return codes.filter((c) => !ranges.some(([a, b]) => c >= a && c <= b));
}

function packagesOf(files: string[]): Map<string, { package: string; version: string }> {
  const out = new Map<string, { package: string; version: string }>();
  const r = spawnSync('dpkg', ['-S', ...files], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const pkgs = new Set<string>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^([^:]+): (.+)$/.exec(line.trim());
    if (m) {
      out.set(m[2], { package: m[1], version: '' });
      pkgs.add(m[1]);
    }
  }
  if (pkgs.size) {
    const v = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Version}\n', ...pkgs], { encoding: 'utf8' });
    const versions = new Map(
      (v.stdout ?? '')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ') as [string, string]),
    );
    for (const info of out.values()) info.version = versions.get(info.package) ?? '';
  }
  return out;
}

/**
 * Every installed face whose cmap covers all 2,350 syllables and that Pango can select exactly,
 * sorted by id; plus the faces left out and why.
 */
export function discoverFaces(): { faces: FontFace[]; excluded: ExcludedFace[] } {
  const codes = hangulSyllables().map((s) => s.codePointAt(0)!);
  const text = run('fc-list', [
    ':lang=ko',
    '--format',
    '%{file}\t%{index}\t%{family[0]}\t%{style[0]}\t%{weight}\t%{charset}\n',
  ]);
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'))
    .map(([file, index, family, style, weight, charset]) => ({
      file,
      index: Number(index),
      family,
      style,
      weight: Number(weight),
      charset,
    }))
    .sort((a, b) => (a.file === b.file ? a.index - b.index : a.file < b.file ? -1 : 1));
  const pk = packagesOf([...new Set(rows.map((r) => r.file))]);
  const faces: FontFace[] = [];
  const excluded: ExcludedFace[] = [];
  for (const r of rows) {
    const id = `${r.file}#${r.index}`;
    const missing = coversAll(r.charset, codes);
    if (missing.length) {
      excluded.push({
        id,
        family: r.family,
        style: r.style,
        reason: `lacks ${missing.length} of the 2,350 syllables (e.g. ${String.fromCodePoint(missing[0])})`,
      });
      continue;
    }
    const [word, asked] = nearestPangoWeight(r.weight);
    const match = run('fc-match', ['-f', '%{file}\t%{index}', `${r.family}:weight=${asked}`]).split('\t');
    if (match[0] !== r.file || Number(match[1]) !== r.index) {
      excluded.push({
        id,
        family: r.family,
        style: r.style,
        reason: `Pango cannot select it: "${r.family}" at weight ${asked} resolves to ${match[0]}#${match[1]}`,
      });
      continue;
    }
    const p = pk.get(r.file) ?? { package: '', version: '' };
    faces.push({
      id,
      file: r.file,
      index: r.index,
      family: r.family,
      style: r.style,
      weight: r.weight,
      pangoWeight: word,
      package: p.package,
      version: p.version,
    });
  }
  return { faces, excluded };
}
