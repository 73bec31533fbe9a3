#!/usr/bin/env node
/**
 * `npm run native:setup`: provides the native `tensorflow` backend (@tensorflow/tfjs-node on
 * libtensorflow) without the download its install script makes.
 *
 * tfjs-node's install script fetches libtensorflow from Google's storage, which fails offline, and
 * npm then drops the optional package without a word. The tensorflow-cpu wheel that pip serves
 * carries the same TensorFlow C API (libtensorflow_cc.so.2 + libtensorflow_framework.so.2 and the
 * C headers), so this script:
 *   1. installs @tensorflow/tfjs-node at the version package.json names, without its scripts;
 *   2. takes the TF C library and headers from a tensorflow-cpu wheel (--wheel FILE,
 *      MARGIN_LAB_TF_WHEEL, the cache in ~/.cache/margin-lab, or `pip download` into that cache);
 *   3. places them where tfjs-node's binding.gyp expects them (deps/lib, deps/include);
 *   4. compiles the binding with node-gyp against the system's Node headers;
 *   5. loads it in a fresh process and runs a matMul, printing the TensorFlow version.
 * Run again, it checks the binding and stops ("already set up"). Every failure is one line.
 *
 * Versions: tfjs-node 4.22 was written against TensorFlow 2.9's C API. TensorFlow keeps its C
 * API stable across 2.x (functions are added, not changed), and the binding's 55 TF_* / TFE_*
 * symbols all resolve in 2.21. A wheel of another major version is refused.
 */
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const PKG = require(path.join(ROOT, 'package.json'));
const TFJS_NODE_VERSION = PKG.optionalDependencies['@tensorflow/tfjs-node'];
const TF_WHEEL = 'tensorflow-cpu==2.21.0';
const CACHE = process.env.MARGIN_LAB_CACHE || path.join(os.homedir(), '.cache', 'margin-lab');

class SetupError extends Error {}

function fail(msg) {
  throw new SetupError(msg);
}

function parseArgs(argv) {
  const out = { wheel: process.env.MARGIN_LAB_TF_WHEEL || undefined, force: false, check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--wheel') {
      if (!argv[i + 1]) fail('--wheel needs a file: a tensorflow-cpu 2.x wheel (.whl)');
      out.wheel = argv[++i];
    } else if (a === '--force') out.force = true;
    else if (a === '--check') out.check = true;
    else if (a === '--help') {
      console.log(
        'usage: npm run native:setup [-- --wheel FILE] [--force] [--check]\n' +
          'Builds the tensorflow backend (tfjs-node) on the TF C library of a tensorflow-cpu wheel.\n' +
          '  --wheel FILE  use this wheel (default: MARGIN_LAB_TF_WHEEL, the cache, or pip download)\n' +
          '  --force       rebuild even when the binding already loads\n' +
          '  --check       only report whether the backend loads (exit 1 when it does not)',
      );
      process.exit(0);
    } else fail(`unknown flag ${JSON.stringify(a)}; run with --help to list the flags`);
  }
  return out;
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT, ...opts });
  if (r.error) fail(`${cmd} could not be run: ${r.error.message}`);
  return r;
}

function tfjsNodeDir() {
  return path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
}

/** Loads tfjs-node in a fresh process; returns the TensorFlow version or the first error line. */
function probe() {
  const code =
    "const tf = require('@tensorflow/tfjs-node');" +
    'const y = tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()[0];' +
    "if (y !== 64) throw new Error('matMul gave ' + y);" +
    'console.log(JSON.stringify({ tf: tf.backend().binding.TF_Version, tfjsNode: tf.version["tfjs-node"] }));';
  const r = spawnSync(process.execPath, ['-e', code], {
    encoding: 'utf8',
    cwd: ROOT,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
  });
  if (r.status === 0) {
    const line = r.stdout.trim().split('\n').pop();
    return { ok: true, ...JSON.parse(line) };
  }
  const err =
    (r.stderr || '').split('\n').find((l) => /Error|error:/.test(l)) || (r.stderr || '').trim().split('\n')[0];
  return { ok: false, error: err || `exit ${r.status}` };
}

function installPackage() {
  if (fs.existsSync(path.join(tfjsNodeDir(), 'package.json'))) {
    const v = require(path.join(tfjsNodeDir(), 'package.json')).version;
    if (v === TFJS_NODE_VERSION) return;
    fail(
      `node_modules holds @tensorflow/tfjs-node ${v}, but package.json names ${TFJS_NODE_VERSION}; run npm ci first`,
    );
  }
  console.log(`native:setup: installing @tensorflow/tfjs-node@${TFJS_NODE_VERSION} without its download script`);
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const r = run(npm[0], [
    ...npm[1],
    'install',
    '--no-save',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`,
  ]);
  if (r.status !== 0) fail(`npm install @tensorflow/tfjs-node failed: ${(r.stderr || '').trim().split('\n').pop()}`);
  // npm install prunes the package's link to itself (node_modules/margin-lab): put it back.
  run(process.execPath, [path.join(ROOT, 'scripts', 'link-self.js')]);
}

/** The wheel's TensorFlow version, from its file name (tensorflow_cpu-2.21.0-cp311-...whl). */
function wheelVersion(file) {
  const m = /^tensorflow(?:_cpu)?-(\d+)\.(\d+)\.(\d+)[^-]*-/.exec(path.basename(file));
  if (!m)
    fail(
      `${file}: not a tensorflow-cpu wheel (expected a name like tensorflow_cpu-2.21.0-cp311-…-manylinux…x86_64.whl)`,
    );
  return { major: Number(m[1]), minor: Number(m[2]), text: `${m[1]}.${m[2]}.${m[3]}` };
}

function findWheel(given) {
  if (given) {
    if (!fs.existsSync(given)) fail(`--wheel ${given}: no such file`);
    return path.resolve(given);
  }
  const dir = path.join(CACHE, 'wheels');
  const cached = fs.existsSync(dir)
    ? fs.readdirSync(dir).filter((f) => /^tensorflow_cpu-2\.\d+\.\d+.*\.whl$/.test(f))
    : [];
  if (cached.length) return path.join(dir, cached.sort().pop());
  fs.mkdirSync(dir, { recursive: true });
  console.log(`native:setup: pip download ${TF_WHEEL} into ${dir} (about 270 MB)`);
  const r = run('python3', [
    '-m',
    'pip',
    'download',
    '--no-deps',
    '--retries',
    '0',
    '--timeout',
    '5',
    '-d',
    dir,
    TF_WHEEL,
  ]);
  const got = fs.readdirSync(dir).filter((f) => /^tensorflow_cpu-2\.\d+\.\d+.*\.whl$/.test(f));
  if (r.status !== 0 || got.length === 0)
    fail(
      `pip download ${TF_WHEEL} failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}; pass a wheel with --wheel FILE`,
    );
  return path.join(dir, got.sort().pop());
}

/** Extracts the C library and headers from the wheel into tfjs-node's deps/ (Python's zipfile: no unzip needed). */
function stageDeps(wheel) {
  const deps = path.join(tfjsNodeDir(), 'deps');
  const tmp = `${deps}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  const py = `
import sys, zipfile, os, shutil
whl, out = sys.argv[1], sys.argv[2]
libs = ['tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2']
heads = ['tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/', 'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/c/']
with zipfile.ZipFile(whl) as z:
    names = set(z.namelist())
    missing = [l for l in libs if l not in names]
    if missing:
        sys.exit('the wheel has no ' + ', '.join(missing))
    for n in z.namelist():
        if n.endswith('/'):
            continue
        if n in libs:
            dest = os.path.join(out, 'lib', os.path.basename(n))
        elif any(n.startswith(h) for h in heads):
            dest = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(n) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
`;
  const r = run('python3', ['-c', py, wheel, tmp]);
  if (r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    fail(`could not extract the TF C library from ${wheel}: ${(r.stderr || '').trim().split('\n').pop()}`);
  }
  const lib = path.join(tmp, 'lib');
  // The link wants libtensorflow.so; at run time the binding asks for the libraries' sonames.
  fs.symlinkSync('libtensorflow_cc.so.2', path.join(lib, 'libtensorflow.so.2'));
  fs.symlinkSync('libtensorflow.so.2', path.join(lib, 'libtensorflow.so'));
  fs.symlinkSync('libtensorflow_framework.so.2', path.join(lib, 'libtensorflow_framework.so'));
  fs.writeFileSync(
    path.join(tmp, 'SOURCE.txt'),
    `TensorFlow C library from ${path.basename(wheel)} (npm run native:setup)\n`,
  );
  fs.rmSync(deps, { recursive: true, force: true });
  fs.renameSync(tmp, deps);
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath &&
      path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  ].filter(Boolean);
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) fail(`node-gyp not found (looked in ${candidates.join(', ')}); it comes with npm`);
  return found;
}

function build() {
  const dir = tfjsNodeDir();
  const headers = fs.existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
  if (!headers.length)
    console.log('native:setup: no Node headers in /usr/include/node; node-gyp will fetch them (needs a network)');
  console.log('native:setup: compiling the tfjs-node binding with node-gyp');
  const r = run(
    process.execPath,
    [
      nodeGyp(),
      'rebuild',
      ...headers,
      '--module_name=tfjs_binding',
      `--module_path=${path.join(dir, 'lib', 'napi-v8')}`,
      '--napi_build_version=8',
    ],
    { cwd: dir },
  );
  if (r.status !== 0) {
    const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /error/i.test(l));
    fail(`node-gyp could not build the binding (needs g++ and make): ${lines[0] || `exit ${r.status}`}`);
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.check) {
    const p = probe();
    if (!p.ok) fail(`the tensorflow backend does not load: ${p.error}; run npm run native:setup`);
    console.log(`native:setup: tensorflow backend loads (libtensorflow ${p.tf}, tfjs-node ${p.tfjsNode})`);
    return;
  }
  if (args.wheel) {
    if (!fs.existsSync(args.wheel)) fail(`--wheel ${args.wheel}: no such file`);
    const v = wheelVersion(args.wheel);
    if (v.major !== 2)
      fail(
        `${path.basename(args.wheel)} is TensorFlow ${v.text}; tfjs-node ${TFJS_NODE_VERSION} uses the TensorFlow 2.x C API, so give a tensorflow-cpu 2.x wheel`,
      );
  }
  installPackage();
  if (!args.force) {
    const p = probe();
    if (p.ok) {
      console.log(`native:setup: already set up (libtensorflow ${p.tf}, tfjs-node ${p.tfjsNode}); --force rebuilds`);
      return;
    }
  }
  const wheel = findWheel(args.wheel);
  const v = wheelVersion(wheel);
  if (v.major !== 2)
    fail(
      `${path.basename(wheel)} is TensorFlow ${v.text}; tfjs-node ${TFJS_NODE_VERSION} uses the TensorFlow 2.x C API`,
    );
  console.log(`native:setup: TF C library from ${wheel}`);
  stageDeps(wheel);
  build();
  const p = probe();
  if (!p.ok) fail(`the binding was built but does not load: ${p.error}`);
  if (!String(p.tf).startsWith(`${v.major}.${v.minor}`))
    fail(`the binding reports TensorFlow ${p.tf}, but the wheel is ${v.text}: another libtensorflow was found first`);
  console.log(`native:setup: the tensorflow backend is ready (libtensorflow ${p.tf}, tfjs-node ${p.tfjsNode})`);
}

try {
  main();
} catch (e) {
  if (!(e instanceof SetupError)) throw e;
  console.error(`native:setup: ${e.message}`);
  process.exit(1);
}
