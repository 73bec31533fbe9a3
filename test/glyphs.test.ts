/**
 * The Hangul glyph-identity set: the syllable list, the shipped files and their validation,
 * seeded identity-disjoint splits, the command line, and a bit-for-bit rebuild of part of the
 * shipped set from the installed fonts.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawn, spawnSync } from 'child_process';
import * as ml from 'margin-lab';
import { parseIdxTyped, IDX_INT16 } from 'margin-lab/dist/data/idx';
import { ROOT } from './helpers/paths';

const SHIPPED = path.join(ROOT, 'data', 'hangul-glyphs');

/** Rewrites a copied set's meta.json so that its recorded sizes and hashes match the files. */
function rehash(dir: string, edit: (meta: Record<string, unknown>) => void = () => {}): void {
  const file = path.join(dir, 'meta.json');
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const rec = (name: string) => {
    const b = fs.readFileSync(path.join(dir, name));
    return { bytes: b.length, sha256: crypto.createHash('sha256').update(b).digest('hex') };
  };
  meta.files = {
    images: rec('images-idx3-ubyte.gz'),
    labels: rec('labels-idx1-short.gz'),
    faces: rec('faces-idx1-short.gz'),
  };
  edit(meta);
  fs.writeFileSync(file, JSON.stringify(meta));
}

test('the 2,350 KS X 1001 syllables, in code order', () => {
  const s = ml.hangulSyllables();
  assert.equal(s.length, 2350);
  assert.equal(new Set(s).size, 2350);
  assert.equal(s[0], '가');
  assert.equal(s[2349], '힝');
  assert.ok(s.every((c) => c.length === 1 && c >= '\uac00' && c <= '\ud7a3'));
  for (let i = 1; i < s.length; i++) assert.ok(s[i - 1] < s[i], `not in code order at ${i}`);
});

test('the shipped set: 1,000 syllables × 40 faces, every pair once, no blank sample, ≤ 15 MB', () => {
  const ds = ml.loadHangulGlyphs();
  const { meta } = ds;
  assert.equal(ds.name, 'hangul-glyphs');
  assert.deepEqual(ds.shape, [32, 32, 1]);
  assert.equal(meta.syllables.length, 1000);
  assert.equal(meta.faces.length, 40);
  assert.equal(ds.y.length, 40_000);
  assert.deepEqual(meta.subset, { syllables: 1000, faces: 40, of: { syllables: 2350, faces: meta.subset.of.faces } });
  const all = new Set(ml.hangulSyllables());
  assert.ok(meta.syllables.every((c) => all.has(c)));
  assert.equal(new Set(meta.syllables).size, 1000);
  assert.equal(new Set(meta.faces.map((f) => f.id)).size, 40, 'faces are distinct');
  const pairs = new Set<number>();
  for (let i = 0; i < ds.y.length; i++) pairs.add(ds.y[i] * 40 + ds.face[i]);
  assert.equal(pairs.size, 40_000, 'some (syllable, face) pair is missing or repeated');
  for (let i = 0; i < ds.y.length; i++) {
    let ink = 0;
    for (let p = i * 1024; p < (i + 1) * 1024; p++) ink += ds.x[p];
    assert.ok(ink > 5, `sample ${i} (${meta.syllables[ds.y[i]]}, ${meta.faces[ds.face[i]].family}) is (nearly) blank`);
  }
  assert.ok(ds.x.every((v) => v >= 0 && v <= 1));
  for (const f of meta.faces)
    assert.ok(f.package && meta.packages[f.package] === f.version, `${f.id}: package ${f.package} ${f.version}`);
  const bytes = fs.readdirSync(SHIPPED).reduce((a, f) => a + fs.statSync(path.join(SHIPPED, f)).size, 0);
  assert.ok(bytes <= 15 * 1024 * 1024, `data/hangul-glyphs is ${bytes} bytes`);
});

test('loader validation: missing, mismatched and wrongly typed files are clear errors', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyphs-bad-'));
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /meta\.json: not found\. The Hangul glyph set ships in data\/hangul-glyphs; rebuild it with npm run data:glyphs/,
  );
  for (const f of fs.readdirSync(SHIPPED)) fs.copyFileSync(path.join(SHIPPED, f), path.join(dir, f));
  const n = 40_000;
  // Labels one short. First as a mix (the file no longer matches meta.json's hash), then with
  // meta.json rewritten to match, so the loader's structural checks are reached.
  const shortLabels = ml.encodeIdx([n - 1], new Int16Array(n - 1));
  fs.writeFileSync(path.join(dir, 'labels-idx1-short.gz'), zlib.gzipSync(shortLabels));
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /labels-idx1-short\.gz: does not match meta\.json \(\d+ bytes, meta\.json says \d+\): the folder mixes files of different builds; rebuild it with npm run data:glyphs/,
  );
  rehash(dir);
  assert.throws(() => ml.loadHangulGlyphs({ dir }), /labels-idx1-short\.gz: expected \[40000\] labels, got \[39999\]/);
  // Labels stored as bytes instead of 16-bit integers.
  fs.writeFileSync(path.join(dir, 'labels-idx1-short.gz'), zlib.gzipSync(ml.encodeIdx([n], new Uint8Array(n))));
  rehash(dir);
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /labels-idx1-short\.gz: data type 0x08 is not supported; expected 0x0b \(16-bit integer\)/,
  );
  // A label beyond the syllable list.
  const bad = new Int16Array(n);
  bad[7] = 1000;
  fs.writeFileSync(path.join(dir, 'labels-idx1-short.gz'), zlib.gzipSync(ml.encodeIdx([n], bad)));
  rehash(dir);
  assert.throws(() => ml.loadHangulGlyphs({ dir }), /label 1000 at 7 is outside 0–999/);
  // Truncated image data.
  fs.copyFileSync(path.join(SHIPPED, 'labels-idx1-short.gz'), path.join(dir, 'labels-idx1-short.gz'));
  const img = zlib.gunzipSync(fs.readFileSync(path.join(SHIPPED, 'images-idx3-ubyte.gz')));
  fs.writeFileSync(path.join(dir, 'images-idx3-ubyte.gz'), zlib.gzipSync(img.subarray(0, img.length - 10)));
  rehash(dir);
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /images-idx3-ubyte\.gz: header declares dimensions \[40000, 32, 32\] = 40960000 bytes of data, but the file has 40959990 \(truncated\?\)/,
  );
  // int16 round trip of the IDX encoder.
  const v = new Int16Array([0, 1, -2, 2349, 32767, -32768]);
  assert.deepEqual(Array.from(parseIdxTyped(ml.encodeIdx([6], v), 'x', IDX_INT16).data), Array.from(v));
});

test('seeded splits: classes identity-disjoint, faces disjoint, both deterministic', () => {
  const a = ml.seededClassSplit(1000, { seenFraction: 0.8, seed: 3 });
  const b = ml.seededClassSplit(1000, { seenFraction: 0.8, seed: 3 });
  const c = ml.seededClassSplit(1000, { seenFraction: 0.8, seed: 4 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.seen, c.seen);
  assert.equal(a.seen.length, 800);
  assert.equal(a.unseen.length, 200);
  assert.deepEqual(
    [...a.seen, ...a.unseen].sort((x, y) => x - y),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.throws(
    () => ml.seededClassSplit(1000, { seenFraction: 1 }),
    /seenFraction must be between 0 and 1 \(exclusive\), got 1/,
  );
  const ds = ml.loadHangulGlyphs();
  const { train, test: held } = ml.splitByFace(ds, { seed: 0 });
  assert.equal(train.y.length + held.y.length, ds.y.length);
  assert.equal(held.y.length, 10 * 1000, 'a quarter of the 40 faces is held out');
  const again = ml.splitByFace(ds, { seed: 0 });
  assert.deepEqual(Array.from(again.test.x.subarray(0, 2048)), Array.from(held.x.subarray(0, 2048)));
});

function cli(tool: string, args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', `${tool}.js`), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

test('command line: --dataset hangul-glyphs with --seen 80% trains and evaluates on unseen syllables', () => {
  const run = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyph-run-'));
  const t = cli('train', [
    '--dataset',
    'hangul-glyphs',
    '--seen',
    '80%',
    '--loss',
    'cosface',
    '--s',
    '16',
    '--backbone',
    'mlp',
    '--dim',
    '16',
    '--epochs',
    '1',
    '--max-steps',
    '3',
    '--run',
    run,
  ]);
  assert.equal(t.status, 0, t.stderr);
  assert.match(
    t.stdout,
    /training cosface on hangul-glyphs classes [\d,]+,… \(800 classes\) \(24000 images\), unseen [\d,]+,… \(200 classes\)/,
  );
  const e = cli('eval', ['--run', run, '--pairs-per-fold', '50']);
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stdout, /10-fold accuracy\s+\d+\.\d+% ± \d/);
  const bad = cli('train', [
    '--dataset',
    'hangul-glyphs',
    '--seen',
    '0-9',
    '--unseen',
    '50%',
    '--run',
    fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyph-bad-')),
  ]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--unseen 50%: a percentage is only accepted for --seen/);
});

test('npm run data:glyphs rebuilds the shipped set bit for bit (first 12 syllables, all 40 faces)', (t) => {
  const meta = ml.loadHangulGlyphs().meta;
  const missing = meta.faces.filter((f) => !fs.existsSync(f.file));
  if (missing.length) {
    t.skip(
      `the fonts are not installed (${missing.length} of 40 face files missing, e.g. ${missing[0].file}); see data/hangul-glyphs/README.md`,
    );
    return;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyph-rebuild-'));
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'dist', 'data', 'glyph-gen', 'build.js'), '--syllables', '12', '--out', out],
    { cwd: ROOT, encoding: 'utf8', timeout: 600_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const rebuilt = ml.loadHangulGlyphs({ dir: out });
  assert.deepEqual(rebuilt.meta.faces, meta.faces, 'the same 40 faces, in the same order');
  assert.deepEqual(
    rebuilt.meta.syllables,
    meta.syllables.slice(0, 12),
    'class k of the subset is class k of the shipped set',
  );
  assert.deepEqual(rebuilt.meta.packages, meta.packages);
  const shippedImages = zlib.gunzipSync(fs.readFileSync(path.join(SHIPPED, 'images-idx3-ubyte.gz')));
  const rebuiltImages = zlib.gunzipSync(fs.readFileSync(path.join(out, 'images-idx3-ubyte.gz')));
  const header = 16;
  const n = 12 * 40 * 1024;
  assert.equal(rebuiltImages.length, header + n);
  assert.ok(
    Buffer.compare(rebuiltImages.subarray(header), shippedImages.subarray(header, header + n)) === 0,
    'the rebuilt pixels differ from the shipped ones',
  );
});

test('a glyph set whose files come from different builds, or an old one without hashes, is refused by name', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyphs-mix-'));
  for (const f of fs.readdirSync(SHIPPED)) fs.copyFileSync(path.join(SHIPPED, f), path.join(dir, f));
  assert.equal(ml.loadHangulGlyphs({ dir }).y.length, 40_000, 'the copy loads');
  // New labels of the same size (a reordered build): the size matches, the hash does not.
  const labels = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'labels-idx1-short.gz')));
  const swapped = Buffer.from(labels);
  swapped.writeInt16BE(labels.readInt16BE(8 + 2 * 41), 8);
  swapped.writeInt16BE(labels.readInt16BE(8), 8 + 2 * 41);
  const gz = zlib.gzipSync(swapped, { level: 9 });
  const shippedSize = fs.statSync(path.join(SHIPPED, 'labels-idx1-short.gz')).size;
  fs.writeFileSync(path.join(dir, 'labels-idx1-short.gz'), gz);
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    gz.length === shippedSize
      ? /labels-idx1-short\.gz: does not match meta\.json \(sha256 [0-9a-f]{12}…, meta\.json says [0-9a-f]{12}…\): the folder mixes files of different builds/
      : /labels-idx1-short\.gz: does not match meta\.json \(\d+ bytes, meta\.json says \d+\): the folder mixes files/,
  );
  fs.copyFileSync(path.join(SHIPPED, 'labels-idx1-short.gz'), path.join(dir, 'labels-idx1-short.gz'));
  // A set from before the hashes (format version 1), and broken meta.json files.
  rehash(dir, (m) => {
    m.version = 1;
    delete m.files;
  });
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /meta\.json: a set built by an earlier margin-lab, without content hashes \(format version 1\); rebuild it with npm run data:glyphs/,
  );
  rehash(dir, (m) => {
    m.version = 2;
    (m.files as Record<string, unknown>).faces = { bytes: 3 };
  });
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    /meta\.json: files\.faces must record bytes and a sha256, got \{"bytes":3\}/,
  );
  // Syllables are the identities: a repeated one, or one that is not a string, is refused.
  for (const [edit, msg] of [
    [
      (m: Record<string, unknown>) => ((m.syllables as unknown[])[3] = (m.syllables as unknown[])[1]),
      /syllables\[3\] ".*" repeats syllables\[1\]; each syllable is one identity, listed once/,
    ],
    [
      (m: Record<string, unknown>) => ((m.syllables as unknown[])[2] = 42),
      /syllables\[2\] must be a non-empty string, got 42/,
    ],
  ] as const) {
    const m = JSON.parse(fs.readFileSync(path.join(SHIPPED, 'meta.json'), 'utf8')) as Record<string, unknown>;
    edit(m);
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(m));
    assert.throws(() => ml.loadHangulGlyphs({ dir }), msg);
  }
  fs.writeFileSync(path.join(dir, 'meta.json'), '{"format": ');
  assert.throws(
    () => ml.loadHangulGlyphs({ dir }),
    new RegExp(`${dir.replace(/[/\\.]/g, '\\$&')}/meta\\.json: not readable JSON`),
  );
  fs.writeFileSync(path.join(dir, 'meta.json'), '[]');
  assert.throws(() => ml.loadHangulGlyphs({ dir }), /meta\.json: expected a JSON object, got \[\]/);
  fs.rmSync(dir, { recursive: true });
});

/** Runs the glyph builder on a tiny set (3 syllables × 2 faces); resolves with its exit code or signal. */
function tinyBuild(
  out: string,
  seed: number,
  kill?: { signal: NodeJS.Signals; when: 'partial' | number; delayMs: number },
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const args = ['--syllables', '3', '--faces', '2', '--probe', '2', '--seed', String(seed), '--out', out];
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'data', 'glyph-gen', 'build.js'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let timer: NodeJS.Timeout | undefined;
  if (kill) {
    const fire = () => setTimeout(() => child.kill(kill.signal), kill.delayMs);
    if (kill.when === 'partial') {
      // Kill around the write-and-swap phase: poll for the sibling partial folder.
      // This build's own partial folder (an earlier, killed build may have left its own).
      const partial = path.join(path.dirname(out), `.${path.basename(out)}.partial-${child.pid}`);
      const poll = () => {
        if (fs.existsSync(partial)) fire();
        else timer = setTimeout(poll, 0);
      };
      poll();
    } else timer = setTimeout(() => child.kill(kill.signal), kill.when);
  }
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    }),
  );
}

test(
  'npm run data:glyphs: a rebuild killed at random points (SIGKILL, SIGINT) never leaves a mix, keeps other files, refuses a folder that is no glyph set',
  { timeout: 900_000 },
  async (t) => {
    const meta = ml.loadHangulGlyphs().meta;
    if (meta.faces.some((f) => !fs.existsSync(f.file))) {
      t.skip('the fonts are not installed; see data/hangul-glyphs/README.md');
      return;
    }
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-glyph-kill-'));
    // A folder that holds files but no glyph set is never written into.
    const foreign = path.join(root, 'mine');
    fs.mkdirSync(foreign);
    fs.writeFileSync(path.join(foreign, 'notes.txt'), 'mine');
    const refused = spawnSync(
      process.execPath,
      [path.join(ROOT, 'dist', 'data', 'glyph-gen', 'build.js'), '--syllables', '3', '--out', foreign],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /--out .*mine: the folder holds files and no glyph set \(no meta\.json\); a rebuild replaces a glyph set only/,
    );
    assert.deepEqual(fs.readdirSync(foreign), ['notes.txt']);

    const out = path.join(root, 'set');
    const first = await tinyBuild(out, 1);
    assert.equal(first.code, 0, first.stderr);
    fs.writeFileSync(path.join(out, 'README.md'), 'my notes about this set');
    let current = 1;
    const rng = new ml.Rng(7);
    const kills = [
      { signal: 'SIGKILL' as const, when: 'partial' as const },
      { signal: 'SIGINT' as const, when: 'partial' as const },
      { signal: 'SIGKILL' as const, when: 'partial' as const },
      { signal: 'SIGINT' as const, when: 4000 },
    ];
    for (const [i, k] of kills.entries()) {
      const seed = 2 + i;
      const r = await tinyBuild(out, seed, { ...k, delayMs: Math.floor(rng.next() * 4) });
      const outcome = r.code === 0 ? 'finished' : `killed by ${r.signal ?? `exit ${r.code}`}`;
      // A Ctrl-C is handled (exit 130 and one line), unless it lands while Node is already exiting
      // after a finished build, when the default action ends the process.
      if (k.signal === 'SIGINT' && r.code !== 0 && r.signal === null) {
        assert.equal(r.code, 130, r.stderr);
        assert.match(r.stderr, /interrupted: nothing was replaced|interrupted after the new set was installed/);
      }
      // Whatever the moment, the folder loads, and as one build: the old or the new one entirely.
      // (The one exception is a SIGKILL between the swap's two renames: the folder is then missing,
      // the loader says where the previous set is, and the next build puts it back.)
      if (!fs.existsSync(out)) {
        assert.equal(r.signal, 'SIGKILL');
        assert.throws(
          () => ml.loadHangulGlyphs({ dir: out }),
          /missing; a rebuild was interrupted while swapping it and left the previous set at/,
        );
        const again = await tinyBuild(out, seed);
        assert.equal(again.code, 0, again.stderr);
      }
      const ds = ml.loadHangulGlyphs({ dir: out });
      assert.ok(
        ds.meta.seed === current || ds.meta.seed === seed,
        `${outcome}: seed ${ds.meta.seed}, expected ${current} or ${seed}`,
      );
      if (r.code === 0) assert.equal(ds.meta.seed, seed);
      current = ds.meta.seed;
      assert.equal(
        fs.readFileSync(path.join(out, 'README.md'), 'utf8'),
        'my notes about this set',
        `${outcome}: README.md kept`,
      );
      if (k.signal === 'SIGINT')
        assert.deepEqual(
          fs.readdirSync(root).filter((n) => n.includes('.partial-')),
          [],
          `${outcome}: a Ctrl-C leaves no partial folder`,
        );
    }
    // A last, complete build cleans whatever a SIGKILL left beside the folder.
    const last = await tinyBuild(out, 9);
    assert.equal(last.code, 0, last.stderr);
    assert.equal(ml.loadHangulGlyphs({ dir: out }).meta.seed, 9);
    assert.deepEqual(fs.readdirSync(root).sort(), ['mine', 'set']);
    assert.deepEqual(fs.readdirSync(out).sort(), [
      'README.md',
      'faces-idx1-short.gz',
      'images-idx3-ubyte.gz',
      'labels-idx1-short.gz',
      'meta.json',
    ]);
    fs.rmSync(root, { recursive: true });
  },
);
