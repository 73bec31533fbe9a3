#!/usr/bin/env node
// `npm run gpu:pack`: packs the one-shot GPU check (scripts/gpu-check.sh) for a machine with a GPU,
// no network and perhaps no Node. Writes into --out (default gpu-pack/):
//   gpu-check.sh            the script to run there
//   margin-lab-gpu.tar.xz   node/bin/node (this Node), margin-lab/ (package.json, dist, build/test,
//                           the doctor, Fashion-MNIST, and only the node_modules files the check loads)
//   debs/libvulkan1_*.deb   the Vulkan loader, used there only if the machine has none
//   MANIFEST.txt            what is inside, with sizes
//   .margin-lab-gpu-pack.json  the packer's signature: the files it wrote. A rerun removes only
//                           those (a user's files stay); a non-empty folder without it is refused.
// Flags:
//   --out DIR     where to write (an earlier bundle's own files are replaced; default gpu-pack)
//   --no-data     leave Fashion-MNIST out; run gpu-check.sh with --data DIR then
//   --split MB    cut the tarball into parts of at most MB megabytes (gpu-check.sh joins them)
//   --no-debs     do not download the Vulkan loader package
//   --max-mb MB   fail when the bundle is larger (default 60)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');
const { printHeaderHelp, ROOT } = require('./lib/project');

function fail(msg) {
  console.error(`gpu:pack: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { out: path.join(ROOT, 'gpu-pack'), data: true, splitMb: 0, debs: true, maxMb: 60 };
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
    } else if (a === '--no-data') o.data = false;
    else if (a === '--no-debs') o.debs = false;
    else if (a === '--split') o.splitMb = num(a, argv[++i]);
    else if (a === '--max-mb') o.maxMb = num(a, argv[++i]);
    else if (a === '--help' || a === '-h') {
      printHeaderHelp(process.argv[1], 1, 16);
      process.exit(0);
    } else fail(`unknown argument '${a}' (expected --out DIR, --no-data, --split MB, --no-debs, --max-mb MB, --help)`);
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

/**
 * Removes the files an earlier `gpu:pack` wrote into `out`, listed in its signature file, and
 * nothing else: a file a user put there stays. A folder that is not empty and has no signature
 * is refused untouched.
 */
function removeEarlierBundle(out) {
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) fail(`--out ${out} is a file, not a folder`);
  const sigFile = path.join(out, SIGNATURE);
  if (!fs.existsSync(sigFile)) {
    if (fs.readdirSync(out).length === 0) return;
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
  for (const rel of sig.files) fs.rmSync(path.join(root, rel), { force: true });
  // Folders the packer made (debs/), once empty.
  for (const d of new Set(sig.files.map((f) => path.dirname(f)).filter((d) => d !== '.'))) {
    const p = path.join(root, d);
    if (fs.existsSync(p) && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
  }
  fs.rmSync(sigFile);
  const kept = fs.readdirSync(out);
  if (kept.length) console.log(`gpu:pack: kept what the earlier bundle did not write: ${kept.join(', ')}`);
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
  removeEarlierBundle(o.out);
  fs.mkdirSync(o.out, { recursive: true });
  // A user's files that were there before stay, and are not listed as the bundle's.
  const theirs = new Set(fs.readdirSync(o.out));
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-gpu-pack-'));
  const manifest = [];
  try {
    // Node.
    copyFile(process.execPath, path.join(stage, 'node', 'bin', 'node'));
    fs.chmodSync(path.join(stage, 'node', 'bin', 'node'), 0o755);
    manifest.push(`node ${process.version} (${mb(fs.statSync(process.execPath).size)} MB before compression)`);

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
      // Uncompressed: xz packs the raw IDX smaller than its gzip; gpu-check.sh gzips it back.
      const src = path.join(ROOT, 'data', 'fashion-mnist');
      const dst = path.join(proj, 'data', 'fashion-mnist');
      fs.mkdirSync(dst, { recursive: true });
      for (const f of fs.readdirSync(src)) {
        if (f.endsWith('.gz'))
          fs.writeFileSync(path.join(dst, f.slice(0, -3)), zlib.gunzipSync(fs.readFileSync(path.join(src, f))));
        else copyFile(path.join(src, f), path.join(dst, f));
      }
      // The shipped Hangul glyph subset (gzip already), for the recipe benchmark's quick mode.
      const glyphs = path.join(ROOT, 'data', 'hangul-glyphs');
      for (const f of fs.readdirSync(glyphs))
        copyFile(path.join(glyphs, f), path.join(proj, 'data', 'hangul-glyphs', f));
      manifest.push('data: Fashion-MNIST (train and test), the shipped Hangul glyph subset');
    } else manifest.push('data: none (--no-data): give gpu-check.sh --data DIR with the four Fashion-MNIST .gz files');

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

    // One xz stream for all of it.
    const tarball = path.join(o.out, 'margin-lab-gpu.tar.xz');
    console.log(`gpu:pack: compressing into ${tarball} (xz -9, a minute or two) ...`);
    const tar = spawnSync(
      'bash',
      ['-c', `tar -C "$1" -cf - node margin-lab | xz -9 -T0 > "$2"`, 'pack', stage, tarball],
      {
        stdio: 'inherit',
      },
    );
    if (tar.status !== 0) fail('tar | xz failed (are tar and xz installed?)');
    if (o.splitMb > 0) {
      sh('split', ['-b', String(Math.floor(o.splitMb * 1e6)), '-d', tarball, `${tarball}.part-`]);
      fs.rmSync(tarball);
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  copyFile(path.join(ROOT, 'scripts', 'gpu-check.sh'), path.join(o.out, 'gpu-check.sh'));
  fs.chmodSync(path.join(o.out, 'gpu-check.sh'), 0o755);

  if (o.debs) {
    const debs = path.join(o.out, 'debs');
    fs.mkdirSync(debs);
    const r = spawnSync('apt-get', ['download', 'libvulkan1'], { cwd: debs, encoding: 'utf8' });
    if (r.status !== 0)
      fail(
        `apt-get download libvulkan1 failed (${(r.stderr || String(r.error)).trim()}); use --no-debs to pack without it`,
      );
    manifest.push(`debs: ${fs.readdirSync(debs).join(', ')} (unpacked there only when no libvulkan.so.1 is installed)`);
  }

  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (d === o.out && theirs.has(e.name)) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else files.push([path.relative(o.out, p), fs.statSync(p).size]);
    }
  };
  walk(o.out);
  const total = files.reduce((s, [, n]) => s + n, 0);
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
  fs.writeFileSync(path.join(o.out, 'MANIFEST.txt'), text + '\n');
  fs.writeFileSync(
    path.join(o.out, SIGNATURE),
    JSON.stringify({ format: 'margin-lab-gpu-pack', files: [...files.map(([f]) => f), 'MANIFEST.txt'] }, null, 1) +
      '\n',
  );
  console.log(text);
  if (total > o.maxMb * 1e6) fail(`the bundle is ${mb(total)} MB, over the ${o.maxMb} MB limit (--max-mb)`);
}

if (require.main === module) main();
else module.exports = { removeEarlierBundle, SIGNATURE };
