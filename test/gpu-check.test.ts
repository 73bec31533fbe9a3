/**
 * The GPU check's front doors: scripts/gpu-check.sh and scripts/gpu-pack.js refuse bad arguments
 * with a message that names them, and never replace a folder that is not an earlier bundle. (The
 * whole pack → unpack → run cycle takes ten minutes on the software adapter; it is the dry run
 * `bash gpu-pack/gpu-check.sh --quick`, not a unit test.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { ROOT } from './helpers/paths';

const CHECK = path.join(ROOT, 'scripts', 'gpu-check.sh');
const PACK = path.join(ROOT, 'scripts', 'gpu-pack.js');

function run(cmd: string, args: string[], cwd = ROOT) {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
}

test('gpu-check.sh: an unknown argument is named, with the accepted ones', () => {
  const r = run('bash', [CHECK, '--fast']);
  assert.equal(r.status, 2);
  assert.match(
    r.stderr,
    /unknown argument '--fast' \(expected --quick, --in-place, --workdir DIR, --log FILE, --data DIR/,
  );
});

test('gpu-check.sh: --workdir and --data are refused with --in-place (they would be ignored)', () => {
  const r = run('bash', [CHECK, '--in-place', '--workdir', os.tmpdir()]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--workdir and --data apply to a bundle, not to --in-place/);
});

test('gpu-check.sh outside a bundle says where to run it from', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-check-'));
  fs.copyFileSync(CHECK, path.join(dir, 'gpu-check.sh'));
  const r = run('bash', [path.join(dir, 'gpu-check.sh')], dir);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /margin-lab-gpu\.tar\.xz not found: run this script from the folder npm run gpu:pack made/);
  assert.ok(!fs.existsSync(path.join(dir, 'gpu-check.log')), 'nothing written before the bundle is found');
  fs.rmSync(dir, { recursive: true });
});

test('gpu-check.sh --help prints its usage', () => {
  const r = run('bash', [CHECK, '--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /bash gpu-check\.sh \[--quick\]/);
  assert.match(r.stdout, /npm run bench -- --backends webgpu,wasm --batches 128,512/);
});

test('gpu:pack: bad flag values are named', () => {
  for (const [args, msg] of [
    [['--split', 'x'], /--split needs a positive number of megabytes, got 'x'/],
    [['--max-mb', '-3'], /--max-mb needs a positive number of megabytes, got '-3'/],
    [['--out'], /--out needs a folder/],
    [['--zip'], /unknown argument '--zip'/],
    [['--level', '12'], /--level needs an xz preset from 0 to 9, got '12'/],
    [['--no-data'], /--no-data: the data are left out by default now .*--with-data packs them in/],
  ] as const) {
    const r = run(process.execPath, [PACK, ...args]);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, msg);
  }
});

test('gpu:pack never replaces a folder that is not an earlier bundle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-pack-'));
  fs.writeFileSync(path.join(dir, 'precious.txt'), 'keep me');
  const r = run(process.execPath, [PACK, '--out', dir]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /is not empty and is not an earlier bundle \(no \.margin-lab-gpu-pack\.json written by gpu:pack\)/,
  );
  assert.equal(fs.readFileSync(path.join(dir, 'precious.txt'), 'utf8'), 'keep me');
  // A file named MANIFEST.txt is not a bundle's signature: the folder is still refused untouched.
  fs.writeFileSync(path.join(dir, 'MANIFEST.txt'), 'my own manifest');
  const r2 = run(process.execPath, [PACK, '--out', dir]);
  assert.equal(r2.status, 1);
  assert.equal(fs.readFileSync(path.join(dir, 'MANIFEST.txt'), 'utf8'), 'my own manifest');
  assert.equal(fs.readFileSync(path.join(dir, 'precious.txt'), 'utf8'), 'keep me');
  fs.rmSync(dir, { recursive: true });
});

test('gpu:pack replacing an earlier bundle removes only the files that bundle wrote', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-pack-'));
  const bundle = ['margin-lab-gpu.tar.xz', 'gpu-check.sh', 'MANIFEST.txt', 'debs/libvulkan1.deb'];
  fs.mkdirSync(path.join(dir, 'debs'));
  for (const f of bundle) fs.writeFileSync(path.join(dir, f), 'packed');
  fs.writeFileSync(
    path.join(dir, '.margin-lab-gpu-pack.json'),
    JSON.stringify({ format: 'margin-lab-gpu-pack', files: bundle }),
  );
  fs.writeFileSync(path.join(dir, 'my-notes.md'), 'keep me');
  fs.writeFileSync(path.join(dir, 'debs', 'mine.deb'), 'keep me too');
  const remove = (d: string) =>
    run(process.execPath, ['-e', `require(${JSON.stringify(PACK)}).removeEarlierBundle(${JSON.stringify(d)})`]);
  const r = remove(dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /kept what the earlier bundle did not write: debs, my-notes\.md/);
  for (const f of bundle) assert.ok(!fs.existsSync(path.join(dir, f)), `${f} removed`);
  assert.equal(fs.readFileSync(path.join(dir, 'my-notes.md'), 'utf8'), 'keep me');
  assert.equal(fs.readFileSync(path.join(dir, 'debs', 'mine.deb'), 'utf8'), 'keep me too');
  assert.ok(!fs.existsSync(path.join(dir, '.margin-lab-gpu-pack.json')));
  // A signature that lists a path outside the bundle removes nothing.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-pack-victim-'));
  fs.writeFileSync(path.join(other, 'victim.txt'), "not the packer's");
  fs.writeFileSync(
    path.join(dir, '.margin-lab-gpu-pack.json'),
    JSON.stringify({
      format: 'margin-lab-gpu-pack',
      files: ['my-notes.md', path.relative(dir, path.join(other, 'victim.txt'))],
    }),
  );
  const bad = remove(dir);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /outside the bundle; nothing was removed/);
  assert.ok(fs.existsSync(path.join(other, 'victim.txt')));
  assert.ok(fs.existsSync(path.join(dir, 'my-notes.md')));
  fs.rmSync(dir, { recursive: true });
  fs.rmSync(other, { recursive: true });
});

/** Runs a quick pack (xz -0, no debs) into `out`; `during` runs once its staging folder exists. */
async function pack(out: string, extra: string[] = [], during?: () => void) {
  const child = spawn(process.execPath, [PACK, '--out', out, '--level', '0', '--no-debs', ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let ran = false;
  const poll = setInterval(() => {
    if (ran || !during || !fs.existsSync(out)) return;
    if (fs.readdirSync(out).some((f) => f.startsWith('.gpu-pack-staging-'))) {
      ran = true;
      during();
    }
  }, 20);
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearInterval(poll);
  return { status, stdout, stderr, ran };
}

function signature(dir: string): string[] {
  return JSON.parse(fs.readFileSync(path.join(dir, '.margin-lab-gpu-pack.json'), 'utf8')).files;
}

test('gpu:pack: a file written into --out while it packs is not claimed, a rerun keeps it, and the packed Node and modules run', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-pack-'));
  const out = path.join(dir, 'bundle');
  const first = await pack(out, [], () => fs.writeFileSync(path.join(out, 'notes.txt'), 'mine'));
  assert.equal(first.status, 0, first.stderr);
  assert.ok(first.ran, 'the staging folder was seen while packing');
  assert.deepEqual(signature(out).sort(), ['MANIFEST.txt', 'gpu-check.sh', 'margin-lab-gpu.tar.xz']);
  assert.match(first.stdout, /kept what is not the bundle's: notes\.txt/);
  assert.match(
    fs.readFileSync(path.join(out, 'MANIFEST.txt'), 'utf8'),
    /data: none; gpu-check\.sh reads the checkout's data/,
  );
  assert.ok(!fs.readdirSync(out).some((f) => f.startsWith('.gpu-pack-staging-')), 'no staging folder left');
  // The stripped Node runs, and loads the pruned project with its webgpu and wasm modules.
  const unpacked = path.join(dir, 'unpacked');
  fs.mkdirSync(unpacked);
  const tar = run('tar', ['-xJf', path.join(out, 'margin-lab-gpu.tar.xz'), '-C', unpacked]);
  assert.equal(tar.status, 0, tar.stderr);
  const node = path.join(unpacked, 'node', 'bin', 'node');
  const probe = run(
    node,
    [
      '-e',
      "const ml = require('margin-lab'); require('./node_modules/webgpu/dist/linux-x64/dawn.node'); console.log(typeof ml.createLoss, process.version)",
    ],
    path.join(unpacked, 'margin-lab'),
  );
  assert.equal(probe.status, 0, probe.stderr);
  assert.equal(probe.stdout.trim(), `function ${process.version}`);
  // A rerun replaces the bundle's files and keeps the note.
  const second = await pack(out);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine');
  assert.ok(!signature(out).includes('notes.txt'));
  fs.rmSync(dir, { recursive: true });
});

test('gpu:pack over its size limit stops after the tarball, leaves the earlier bundle untouched and nothing of its own; the staging folder of a killed pack is removed by the next', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ml-gpu-pack-'));
  const bundle = ['margin-lab-gpu.tar.xz', 'gpu-check.sh', 'MANIFEST.txt'];
  for (const f of bundle) fs.writeFileSync(path.join(dir, f), `earlier ${f}`);
  fs.writeFileSync(
    path.join(dir, '.margin-lab-gpu-pack.json'),
    JSON.stringify({ format: 'margin-lab-gpu-pack', files: bundle }),
  );
  // What a pack killed with SIGKILL leaves: its staging folder, named with its (now gone) pid.
  const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
  const stale = path.join(dir, `.gpu-pack-staging-${gone}-abc123`);
  fs.mkdirSync(stale);
  fs.writeFileSync(path.join(stale, 'margin-lab-gpu.tar.xz'), 'half');
  const r = await pack(dir, ['--max-mb', '1']);
  assert.equal(r.status, 1);
  assert.match(
    r.stdout,
    new RegExp(
      `removed \\.gpu-pack-staging-${gone}-abc123, left by an interrupted pack \\(process ${gone}, no longer running\\)`,
    ),
  );
  assert.match(
    r.stderr,
    /gpu:pack: the tarball alone is [0-9.]+ MB, over the 1 MB limit \(--max-mb\); the earlier bundle, if any, is unchanged/,
  );
  assert.doesNotMatch(r.stdout, /MANIFEST|total/, 'stopped before the rest of the bundle');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['.margin-lab-gpu-pack.json', ...bundle].sort());
  for (const f of bundle) assert.equal(fs.readFileSync(path.join(dir, f), 'utf8'), `earlier ${f}`);
  fs.rmSync(dir, { recursive: true });
});
