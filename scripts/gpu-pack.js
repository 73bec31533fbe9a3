#!/usr/bin/env node
// `npm run gpu:pack`: packs the one-shot GPU check (scripts/gpu-check.sh) for a machine with a GPU,
// no network and perhaps no Node. Writes into --out (default gpu-pack/):
//   gpu-check.sh            the script to run there
//   margin-lab-gpu.tar.xz   node/bin/node (this Node, its symbol tables stripped when `strip` is
//                           here), margin-lab/ (package.json, dist, build/test, the doctor, and
//                           only the node_modules files the check loads)
//   debs/libvulkan1_*.deb   the Vulkan loader, used there only if the machine has none
//   MANIFEST.txt            what is inside, with sizes
//   .margin-lab-gpu-pack.json  the packer's signature: the files it wrote. A rerun removes only
//                           those (a user's files stay); a non-empty folder without it is refused.
// The data (Fashion-MNIST, the shipped Hangul glyph subset) stay out by default: a bundle inside a
// checkout (gpu-pack/ is) reads the checkout's data/, which travels with it anyway. --with-data
// packs them in, for a bundle that travels alone (about 40 MB more; raise --max-mb).
// Everything is made in a staging folder inside --out and moved into place only once complete and
// within --max-mb: a failed or interrupted pack leaves the earlier bundle as it was.
// Flags:
//   --out DIR     where to write (an earlier bundle's own files are replaced; default gpu-pack)
//   --with-data   pack Fashion-MNIST and the glyph subset into the tarball
//   --split MB    cut the tarball into parts of at most MB megabytes (gpu-check.sh joins them)
//   --no-debs     do not download the Vulkan loader package
//   --max-mb MB   fail when the bundle is larger (default 60)
//   --level N     xz preset, 0 (fast, larger) to 9 (default: smallest, a few minutes)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');
const { printHeaderHelp, ROOT } = require('./lib/project');

/** A refusal or failure: main() cleans up what this run made and exits 1 with the message. */
class PackError extends Error {}

function fail(msg) {
  throw new PackError(msg);
}

function parseArgs(argv) {
  const o = { out: path.join(ROOT, 'gpu-pack'), data: false, splitMb: 0, debs: true, maxMb: 60, level: 9 };
  const num = (flag, v) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n <= 0)
      fail(`${flag} needs a positive number of megabytes, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') {
      if (!argv[i + 1]) fail('--out needs a folder');
      o.out = path.resolve(argv[++i]);
    } else if (a === '--with-data') o.data = true;
    else if (a === '--no-data')
      fail(
        '--no-data: the data are left out by default now (the checkout around the bundle has them); --with-data packs them in',
      );
    else if (a === '--no-debs') o.debs = false;
    else if (a === '--split') o.splitMb = num(a, argv[++i]);
    else if (a === '--max-mb') o.maxMb = num(a, argv[++i]);
    else if (a === '--level') {
      const v = argv[++i];
      if (v === undefined || !/^[0-9]$/.test(v)) fail(`--level needs an xz preset from 0 to 9, got '${v}'`);
      o.level = Number(v);
    } else if (a === '--help' || a === '-h') {
      printHeaderHelp(process.argv[1], 1, 23);
      process.exit(0);
    } else
      fail(
        `unknown argument '${a}' (expected --out DIR, --with-data, --split MB, --no-debs, --max-mb MB, --level N, --help)`,
      );
  }
  return o;
}

/**
 * The node_modules files the check loads, per package: found by tracing which files the doctor,
 * the webgpu tests, the bench and training require (see MANIFEST), plus what they read lazily
 * (the wasm binaries, node-fetch for tfjs-core's fetch). Only linux-x64's Dawn binary is taken.
 */
const PACKAGES = {
  '@tensorflow/tfjs': ['package.json', 'LICENSE', 'dist/tf.node.js'],
  '@tensorflow/tfjs-core': ['package.json', 'LICENSE', 'dist/tf-core.node.js'],
  '@tensorflow/tfjs-layers': ['package.json', 'LICENSE', 'dist/tf-layers.node.js'],
  '@tensorflow/tfjs-converter': ['package.json', 'LICENSE', 'dist/tf-converter.node.js'],
  '@tensorflow/tfjs-data': ['package.json', 'LICENSE', 'dist/tf-data.node.js'],
  '@tensorflow/tfjs-backend-cpu': ['package.json', 'LICENSE', 'dist/tf-backend-cpu.node.js'],
  '@tensorflow/tfjs-backend-webgl': ['package.json', 'LICENSE', 'dist/tf-backend-webgl.node.js'],
  '@tensorflow/tfjs-backend-wasm': [
    'package.json',
    'LICENSE',
    'dist/tf-backend-wasm.node.js',
    'dist/tfjs-backend-wasm.wasm',
    'dist/tfjs-backend-wasm-simd.wasm',
    'dist/tfjs-backend-wasm-threaded-simd.wasm',
  ],
  '@tensorflow/tfjs-backend-webgpu': ['package.json', 'LICENSE', 'dist/tf-backend-webgpu.node.js'],
  webgpu: ['package.json', 'LICENSE.md', 'dist/linux-x64/dawn.node'],
  // The benchmark's report embeds its figures with this bundle.
  'plotly.js-dist-min': ['package.json', 'LICENSE', 'plotly.min.js'],
  // Whole (small) packages.
  seedrandom: null,
  long: null,
  'node-fetch': null,
  'whatwg-url': null,
  tr46: null,
  'webidl-conversions': null,
  string_decoder: null,
  'safe-buffer': null,
};

function copyFile(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

function copyTree(from, to, skip = () => false) {
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    const src = path.join(from, e.name);
    if (skip(src, e)) continue;
    if (e.isDirectory()) copyTree(src, path.join(to, e.name), skip);
    else if (e.isFile()) copyFile(src, path.join(to, e.name));
  }
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', ...opts });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.error || '').toString().trim()}`);
  return r.stdout;
}

function mb(bytes) {
  return (bytes / 1e6).toFixed(1);
}

/** The packer's own record of what it wrote: an earlier bundle is recognised by it, not by a file name. */
const SIGNATURE = '.margin-lab-gpu-pack.json';

/** Prefix of a pack's staging folder inside --out: `.gpu-pack-staging-<pid>-XXXXXX`. */
const STAGING = '.gpu-pack-staging-';

/** The pid in a staging folder's name when that process is gone (a killed pack's leftover), else null. */
function deadStagingPid(name) {
  const m = new RegExp(`^${STAGING.replace(/\./g, '\\.')}(\\d+)-`).exec(name);
  if (!m) return null;
  try {
    process.kill(Number(m[1]), 0);
    return null;
  } catch (e) {
    return e.code === 'ESRCH' ? Number(m[1]) : null;
  }
}

/** Removes what a killed pack left in `out` (its staging folder), and says so. */
function removeStaleStaging(out) {
  if (!fs.existsSync(out) || !fs.statSync(out).isDirectory()) return;
  for (const name of fs.readdirSync(out)) {
    const pid = deadStagingPid(name);
    if (pid === null) continue;
    fs.rmSync(path.join(out, name), { recursive: true, force: true });
    console.log(`gpu:pack: removed ${name}, left by an interrupted pack (process ${pid}, no longer running)`);
  }
}

/**
 * The files an earlier `gpu:pack` wrote into `out`, from its signature, checked to lie inside it;
 * [] for a missing or empty folder. Refuses (nothing touched) a non-empty folder without a
 * signature, and a signature that is not the packer's or lists a path outside the folder.
 */
function earlierBundle(out) {
  if (!fs.existsSync(out)) return [];
  if (!fs.statSync(out).isDirectory()) fail(`--out ${out} is a file, not a folder`);
  const sigFile = path.join(out, SIGNATURE);
  if (!fs.existsSync(sigFile)) {
    // An interrupted first pack leaves only its staging folder, removed before packing.
    if (fs.readdirSync(out).every((f) => deadStagingPid(f) !== null)) return [];
    fail(
      `${out} is not empty and is not an earlier bundle (no ${SIGNATURE} written by gpu:pack): choose another --out`,
    );
  }
  let sig;
  try {
    sig = JSON.parse(fs.readFileSync(sigFile, 'utf8'));
  } catch (e) {
    fail(`${sigFile}: not valid JSON (${e.message}); remove the folder yourself or choose another --out`);
  }
  if (!sig || sig.format !== 'margin-lab-gpu-pack' || !Array.isArray(sig.files))
    fail(`${sigFile}: not a gpu:pack signature; remove the folder yourself or choose another --out`);
  const root = path.resolve(out);
  for (const rel of sig.files) {
    const p = path.resolve(root, String(rel));
    if (typeof rel !== 'string' || !p.startsWith(root + path.sep))
      fail(`${sigFile}: lists ${JSON.stringify(rel)}, outside the bundle; nothing was removed`);
  }
  return sig.files;
}

/** Removes the listed files of an earlier bundle, the folders it made once empty, and its signature. */
function removeFiles(out, files) {
  const root = path.resolve(out);
  for (const rel of files) fs.rmSync(path.join(root, rel), { force: true });
  for (const d of new Set(files.map((f) => path.dirname(f)).filter((d) => d !== '.'))) {
    const p = path.join(root, d);
    if (fs.existsSync(p) && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
  }
  fs.rmSync(path.join(root, SIGNATURE), { force: true });
}

/**
 * Removes the files an earlier `gpu:pack` wrote into `out`, listed in its signature file, and
 * nothing else: a file a user put there stays. A folder that is not empty and has no signature
 * is refused untouched.
 */
function removeEarlierBundle(out) {
  removeFiles(out, earlierBundle(out));
  const kept = fs.existsSync(out) ? fs.readdirSync(out) : [];
  if (kept.length) console.log(`gpu:pack: kept what the earlier bundle did not write: ${kept.join(', ')}`);
}

/** Every file under `dir`, as [path relative to dir, size]. */
function listFiles(dir) {
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push([path.relative(dir, p), fs.statSync(p).size]);
    }
  };
  walk(dir);
  return files.sort(([a], [b]) => (a < b ? -1 : 1));
}

/** The tree that goes into the tarball (Node, the project, pruned node_modules), built in `stage`. */
function stageTree(stage, o, manifest) {
  // Node, without its symbol tables when binutils' strip is here (98.9 → 86.3 MB for Node 20.20,
  // 2 MB less after xz); the dynamic symbols native addons link against stay, so it runs the same.
  const nodeBin = path.join(stage, 'node', 'bin', 'node');
  copyFile(process.execPath, nodeBin);
  fs.chmodSync(nodeBin, 0o755);
  const stripped = spawnSync('strip', ['--strip-all', nodeBin], { stdio: 'ignore' }).status === 0;
  manifest.push(
    `node ${process.version} (${mb(fs.statSync(nodeBin).size)} MB before compression${stripped ? ', symbol tables stripped' : ', unstripped: no strip here'})`,
  );

  // The project.
  const proj = path.join(stage, 'margin-lab');
  copyFile(path.join(ROOT, 'package.json'), path.join(proj, 'package.json'));
  copyTree(path.join(ROOT, 'dist'), path.join(proj, 'dist'), (f) => f.endsWith('.map'));
  copyTree(path.join(ROOT, 'build', 'test'), path.join(proj, 'build', 'test'), (f) => f.endsWith('.map'));
  copyFile(path.join(ROOT, 'scripts', 'doctor.js'), path.join(proj, 'scripts', 'doctor.js'));
  copyTree(path.join(ROOT, 'scripts', 'lib'), path.join(proj, 'scripts', 'lib'));
  copyFile(path.join(ROOT, 'scripts', 'gpu-check.sh'), path.join(proj, 'scripts', 'gpu-check.sh'));
  // The bench's PyTorch steps (toy and recipe; the recipe's builds on the benchmark's twin), run
  // when the machine has a python3 with torch.
  for (const f of ['torch_reference.py', 'torch_recipe.py', 'torch_twin.py'])
    copyFile(path.join(ROOT, 'bench', f), path.join(proj, 'bench', f));
  manifest.push(
    'margin-lab: package.json, dist/, build/test/, scripts/doctor.js, scripts/lib/, scripts/gpu-check.sh, bench/torch_{reference,recipe,twin}.py',
  );
  if (o.data) {
    // Fashion-MNIST uncompressed: xz packs the raw IDX smaller than their gzip; gpu-check.sh gzips
    // them back. The glyph files stay as they are: meta.json records their .gz bytes' sha256.
    const fm = path.join(proj, 'data', 'fashion-mnist');
    fs.mkdirSync(fm, { recursive: true });
    for (const f of fs.readdirSync(path.join(ROOT, 'data', 'fashion-mnist'))) {
      const from = path.join(ROOT, 'data', 'fashion-mnist', f);
      if (f.endsWith('.gz')) fs.writeFileSync(path.join(fm, f.slice(0, -3)), zlib.gunzipSync(fs.readFileSync(from)));
      else copyFile(from, path.join(fm, f));
    }
    copyTree(path.join(ROOT, 'data', 'hangul-glyphs'), path.join(proj, 'data', 'hangul-glyphs'));
    manifest.push('data: Fashion-MNIST (train and test), the shipped Hangul glyph subset (--with-data)');
  } else
    manifest.push(
      "data: none; gpu-check.sh reads the checkout's data/ around the bundle, or --data DIR (Fashion-MNIST's .gz files)",
    );

  // node_modules, pruned.
  for (const [pkg, files] of Object.entries(PACKAGES)) {
    const src = path.join(ROOT, 'node_modules', pkg);
    if (!fs.existsSync(src))
      fail(`node_modules/${pkg} is missing (the optional webgpu packages too must be installed: npm install)`);
    const dst = path.join(proj, 'node_modules', pkg);
    if (files === null) copyTree(src, dst, (f, e) => e.isDirectory() && e.name === 'node_modules');
    else
      for (const f of files) {
        if (fs.existsSync(path.join(src, f))) copyFile(path.join(src, f), path.join(dst, f));
        else if (f !== 'LICENSE' && f !== 'LICENSE.md') fail(`node_modules/${pkg}/${f} is missing`);
      }
  }
  manifest.push(`node_modules: ${Object.keys(PACKAGES).join(', ')}`);
  fs.symlinkSync('..', path.join(proj, 'node_modules', 'margin-lab'));
}

function overLimit(o, bytes, what) {
  if (bytes > o.maxMb * 1e6)
    fail(
      `${what} is ${mb(bytes)} MB, over the ${o.maxMb} MB limit (--max-mb)${o.data ? '; without --with-data the data stay out' : ''}; the earlier bundle, if any, is unchanged`,
    );
}

/** Builds the bundle in `staging` (inside --out); returns its manifest lines. */
function build(o, staging) {
  const manifest = [];
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-gpu-pack-'));
  try {
    stageTree(tree, o, manifest);
    const tarball = path.join(staging, 'margin-lab-gpu.tar.xz');
    console.log(`gpu:pack: compressing into ${tarball} (xz -${o.level}${o.level >= 8 ? ', a few minutes' : ''}) ...`);
    const tar = spawnSync(
      'bash',
      ['-c', `set -o pipefail; tar -C "$1" -cf - node margin-lab | xz -${o.level} -T0 > "$2"`, 'pack', tree, tarball],
      { stdio: 'inherit' },
    );
    if (tar.status !== 0) fail('tar | xz failed (are tar and xz installed?)');
    // The tarball is nearly all of the bundle: a bundle over the limit stops here, before the rest.
    overLimit(o, fs.statSync(tarball).size, 'the tarball alone');
    if (o.splitMb > 0) {
      sh('split', ['-b', String(Math.floor(o.splitMb * 1e6)), '-d', tarball, `${tarball}.part-`]);
      fs.rmSync(tarball);
    }
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
  copyFile(path.join(ROOT, 'scripts', 'gpu-check.sh'), path.join(staging, 'gpu-check.sh'));
  fs.chmodSync(path.join(staging, 'gpu-check.sh'), 0o755);
  if (o.debs) {
    const debs = path.join(staging, 'debs');
    fs.mkdirSync(debs);
    const r = spawnSync('apt-get', ['download', 'libvulkan1'], { cwd: debs, encoding: 'utf8' });
    if (r.status !== 0)
      fail(
        `apt-get download libvulkan1 failed (${(r.stderr || String(r.error)).trim()}); use --no-debs to pack without it`,
      );
    manifest.push(`debs: ${fs.readdirSync(debs).join(', ')} (unpacked there only when no libvulkan.so.1 is installed)`);
  }
  return manifest;
}

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (os.platform() !== 'linux' || os.arch() !== 'x64')
    fail(
      `the bundle carries this Node binary, so it must be made on linux-x64 (this is ${os.platform()}-${os.arch()})`,
    );
  for (const need of ['dist/index.js', 'dist/cli/bench.js', 'dist/cli/train.js', 'build/test/webgpu.test.js'])
    if (!fs.existsSync(path.join(ROOT, need)))
      fail(`${need} is missing: build first (npm run build && npm run build:test; npm run gpu:pack does both)`);
  // Checked now, replaced only at the end.
  const earlier = earlierBundle(o.out);
  fs.mkdirSync(o.out, { recursive: true });
  // Everything is written here and moved into place once complete: files a user adds to --out
  // meanwhile are never listed as the bundle's, and a failed pack leaves --out as it was.
  removeStaleStaging(o.out);
  const staging = fs.mkdtempSync(path.join(o.out, `${STAGING}${process.pid}-`));
  const cleanUp = () => fs.rmSync(staging, { recursive: true, force: true });
  const onSignal = (sig) => {
    cleanUp();
    console.error(`gpu:pack: stopped by ${sig}; the earlier bundle, if any, is unchanged`);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const manifest = build(o, staging);
    const files = listFiles(staging);
    const total = files.reduce((sum, [, n]) => sum + n, 0);
    overLimit(o, total, 'the bundle');
    const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const text = [
      `margin-lab GPU check bundle, made ${new Date().toISOString()} from commit ${commit || 'unknown'}`,
      'run: bash gpu-check.sh   (see its header; --quick is the dry run)',
      '',
      ...manifest,
      '',
      ...files.map(([f, n]) => `${mb(n).padStart(7)} MB  ${f}`),
      `${mb(total).padStart(7)} MB  total`,
    ].join('\n');
    fs.writeFileSync(path.join(staging, 'MANIFEST.txt'), text + '\n');
    const ours = [...files.map(([f]) => f), 'MANIFEST.txt'];
    // A user's file in the way of one of ours (same name, not the earlier bundle's) is refused.
    const earlierSet = new Set(earlier);
    for (const f of ours)
      if (!earlierSet.has(f) && fs.existsSync(path.join(o.out, f)))
        fail(`${path.join(o.out, f)} is in the way and is not the earlier bundle's: move it, or choose another --out`);
    removeFiles(o.out, earlier);
    for (const f of ours) {
      fs.mkdirSync(path.dirname(path.join(o.out, f)), { recursive: true });
      fs.renameSync(path.join(staging, f), path.join(o.out, f));
    }
    fs.writeFileSync(
      path.join(o.out, SIGNATURE),
      JSON.stringify({ format: 'margin-lab-gpu-pack', files: ours }, null, 1) + '\n',
    );
    console.log(text);
    const top = new Set(ours.map((f) => f.split(path.sep)[0]));
    const kept = fs.readdirSync(o.out).filter((f) => !top.has(f) && f !== SIGNATURE && f !== path.basename(staging));
    if (kept.length) console.log(`gpu:pack: kept what is not the bundle's: ${kept.join(', ')}`);
  } finally {
    cleanUp();
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    if (!(e instanceof PackError)) throw e;
    console.error(`gpu:pack: ${e.message}`);
    process.exit(1);
  }
} else module.exports = { removeEarlierBundle, earlierBundle, SIGNATURE };
