import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { tf, useBestBackend, backendReport, probeAdapters } from 'margin-lab';
import { briefReason } from 'margin-lab/dist/backend';
import type { BackendReport } from 'margin-lab';
import { randomArray, relError } from './helpers/numeric';

function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

const hasNative = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

test('useBestBackend reports the backend, its device and why faster ones were skipped', async () => {
  const r = await useBestBackend({ print: false, env: {} });
  assert.equal(tf.getBackend(), r.backend);
  assert.equal(backendReport(), r);
  assert.match(r.line, new RegExp(`^margin-lab backend: ${r.backend} on `));
  assert.ok(r.device.length > 0);
  // The backend this machine must get, found without useBestBackend: a CUDA GPU with tfjs-node-gpu,
  // else a hardware WebGPU adapter, else tfjs-node on the CPU, else wasm.
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  const cuda = installed('@tensorflow/tfjs-node-gpu') && smi.status === 0 && /GPU \d/.test(smi.stdout ?? '');
  const hardwareWebgpu = probeAdapters().adapters.some((a) => !a.fallback);
  const want = cuda
    ? 'tensorflow'
    : hardwareWebgpu
      ? 'webgpu'
      : installed('@tensorflow/tfjs-node')
        ? 'tensorflow'
        : 'wasm';
  assert.equal(r.backend, want, `expected ${want} here (CUDA ${cuda}, hardware WebGPU ${hardwareWebgpu}): ${r.line}`);
  if (r.backend === 'webgpu') {
    // A GPU machine: webgpu wins only on a hardware adapter, and the line names it.
    assert.ok(r.adapter && !r.adapter.fallback, r.line);
    assert.match(r.line, /^margin-lab backend: webgpu on GPU /);
  } else if (r.backend === 'wasm') {
    // This machine (and CI) has no libtensorflow and no GPU: wasm must win and say why, webgpu too
    // (no adapter, or only a software one, which is used only when forced).
    assert.equal(r.backend, 'wasm');
    assert.ok(r.skipped.includes('tfjs-node-gpu not installed'), r.line);
    assert.ok(r.skipped.includes('tfjs-node not installed'), r.line);
    assert.ok(
      r.skipped.some((s) => /^webgpu: (no adapter|no usable adapter|only a software adapter)/.test(s)),
      r.line,
    );
    assert.match(r.line, /not used: tfjs-node-gpu not installed; webgpu: [^;]+; tfjs-node not installed/);
  } else if (!cuda) {
    // libtensorflow on the CPU: the line says why no GPU was used.
    assert.match(r.line, /^margin-lab backend: tensorflow on CPU .*not used: .*tfjs-node-gpu.*; webgpu: /);
  }
});

test('a forced backend that cannot load fails loudly, naming what is missing', async () => {
  if (hasNative) {
    const r = await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'tensorflow' } });
    assert.equal(r.backend, 'tensorflow');
    assert.equal(r.forced, true);
  } else {
    await assert.rejects(
      useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'tensorflow' } }),
      (e: Error) =>
        /MARGIN_LAB_BACKEND=tensorflow/.test(e.message) &&
        /tfjs-node-gpu not installed/.test(e.message) &&
        /tfjs-node not installed/.test(e.message),
    );
  }
  await assert.rejects(
    useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'webgl' } }),
    /MARGIN_LAB_BACKEND="webgl" is not a backend; expected one of tensorflow, webgpu, wasm, cpu/,
  );
  const cpu = await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'cpu' } });
  assert.equal(cpu.backend, 'cpu');
  assert.equal(cpu.forced, true);
  const wasm = await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
  assert.equal(wasm.backend, 'wasm');
});

type Shape4 = [number, number, number, number];
interface ConvCase {
  x: Shape4;
  k: [number, number];
  cout: number;
  pad: 'same' | 'valid';
}

/** Filter and input gradients of sum(conv2d(x, f) * dy) on the currently active backend. */
function convGrads(c: ConvCase, seed: number): { df: Float32Array; dx: Float32Array } {
  const [n, h, w, cin] = c.x;
  const fShape: Shape4 = [c.k[0], c.k[1], cin, c.cout];
  const x = tf.tensor4d(randomArray(n * h * w * cin, seed), c.x);
  const f = tf.tensor4d(
    randomArray(
      fShape.reduce((a, b) => a * b),
      seed + 1,
    ),
    fShape,
  );
  const outShape = tf.conv2d(x, f, 1, c.pad).shape;
  const dy = tf.tensor(
    randomArray(
      outShape.reduce((a, b) => a * b),
      seed + 2,
    ),
    outShape,
  );
  const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
    tf
      .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.pad)
      .mul(dy)
      .sum(),
  )([x, f]);
  const out = { df: gf.dataSync() as Float32Array, dx: gx.dataSync() as Float32Array };
  tf.dispose([x, f, dy, gx, gf]);
  return out;
}

const cases: ConvCase[] = [
  { x: [2, 7, 6, 3], k: [3, 3], cout: 4, pad: 'same' },
  { x: [2, 7, 6, 3], k: [3, 3], cout: 4, pad: 'valid' },
  { x: [3, 8, 8, 1], k: [5, 5], cout: 2, pad: 'same' },
  { x: [1, 9, 5, 2], k: [2, 4], cout: 3, pad: 'same' },
  { x: [4, 6, 7, 5], k: [1, 3], cout: 6, pad: 'valid' },
  { x: [8, 12, 12, 8], k: [3, 3], cout: 16, pad: 'same' },
];

test('wasm conv gradients (filter and input: ours) match the cpu backend', async () => {
  for (const [i, c] of cases.entries()) {
    await tf.setBackend('cpu');
    const ref = convGrads(c, 100 + i);
    await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
    const got = convGrads(c, 100 + i);
    const ef = relError(got.df, ref.df);
    const ex = relError(got.dx, ref.dx);
    assert.ok(ef <= 1e-5, `filter gradient, case ${JSON.stringify(c)}: relative error ${ef}`);
    assert.ok(ex <= 1e-5, `input gradient, case ${JSON.stringify(c)}: relative error ${ex}`);
  }
});

test('wasm filter gradient refuses strides and dilations it cannot compute', async () => {
  await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
  const x = tf.ones([1, 6, 6, 1]) as tf.Tensor4D;
  const f = tf.ones([3, 3, 1, 1]) as tf.Tensor4D;
  assert.throws(
    () => tf.grad((ff: tf.Tensor) => tf.conv2d(x, ff as tf.Tensor4D, 2, 'same').sum())(f),
    /Conv2DBackpropFilter on wasm: strides must be 1, got \[2, 2\]/,
  );
  // tfjs refuses dilated gradients itself; call the kernel directly to see ours refuse too.
  const dy = tf.ones([1, 6, 6, 1]);
  const run = (attrs: Record<string, unknown>) => () =>
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides: 1,
      pad: 'same',
      dataFormat: 'NHWC',
      dilations: 1,
      filterShape: [3, 3, 1, 1],
      ...attrs,
    } as unknown as tf.NamedAttrMap);
  assert.throws(run({ dilations: 2 }), /dilations must be 1, got \[2, 2\]/);
  assert.throws(
    run({
      pad: [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ],
    }),
    /padding must be 'same' or 'valid'/,
  );
  assert.throws(run({ dataFormat: 'NCHW' }), /dataFormat must be NHWC, got "NCHW"/);
  tf.dispose([x, f, dy]);
});

test('a small conv net trains on wasm: loss decreases and the tensor count stays flat', async () => {
  await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 1],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({
        filters: 8,
        kernelSize: 3,
        padding: 'valid',
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  const xs = tf.tensor4d(randomArray(32 * 64, 7), [32, 8, 8, 1]);
  const ys = tf.oneHot(
    tf.tensor1d(
      Array.from({ length: 32 }, (_, i) => i % 4),
      'int32',
    ),
    4,
  );
  const opt = tf.train.adam(0.01);
  const step = () => {
    const cost = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(ys, model.apply(xs) as tf.Tensor) as tf.Scalar,
      true,
    ) as tf.Scalar;
    const v = cost.dataSync()[0];
    cost.dispose();
    return v;
  };
  const first = step();
  step(); // optimizer slots are created during the first steps
  const before = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 20; i++) last = step();
  assert.equal(tf.memory().numTensors, before, 'tensor count changed across steps');
  assert.ok(Number.isFinite(last) && last < first * 0.8, `loss did not decrease enough: ${first} -> ${last}`);
  model.dispose();
  opt.dispose();
  tf.dispose([xs, ys]);
});

test('tf.gather trains on wasm: UnsortedSegmentSum (its gradient) matches the cpu backend', async () => {
  const run = () => {
    const x = tf.tensor3d(randomArray(5 * 3 * 2, 9), [5, 3, 2]);
    const idx = tf.tensor1d([4, 0, 0, 2, 4, 4, -0], 'int32');
    const g = tf.grad((t: tf.Tensor) =>
      tf
        .gather(t, idx)
        .mul(tf.range(1, 43).reshape([7, 3, 2]))
        .sum(),
    )(x);
    const seg = tf.unsortedSegmentSum(
      tf.tensor2d([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
      tf.tensor1d([2, 0, 2], 'int32'),
      4,
    );
    const out = { g: Array.from(g.dataSync()), seg: Array.from(seg.dataSync()) };
    tf.dispose([x, idx, g, seg]);
    return out;
  };
  await tf.setBackend('cpu');
  const ref = run();
  await useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
  const got = run();
  assert.deepEqual(got.seg, [3, 4, 0, 0, 6, 8, 0, 0]);
  assert.deepEqual(got.seg, ref.seg);
  assert.ok(relError(got.g, ref.g) <= 1e-6, `gather gradient relative error ${relError(got.g, ref.g)}`);
});

test('a reason in brief drops its parenthesised details wherever they stand and what to do about it, never cutting a clause', () => {
  for (const [reason, brief] of [
    ['webgpu: no adapter (no Vulkan driver found: Linux needs libvulkan1 (or SwiftShader))', 'webgpu: no adapter'],
    [
      'webgpu: the optional package `webgpu` (Dawn for Node) is not installed: npm install webgpu@0.6.2',
      'webgpu: the optional package `webgpu` is not installed',
    ],
    [
      'tfjs-node-gpu installed but no CUDA device visible (nvidia-smi lists none)',
      'tfjs-node-gpu installed but no CUDA device visible',
    ],
    ['wasm: 2 threads', 'wasm: 2 threads'],
  ])
    assert.equal(briefReason(reason), brief);
});

test('the printed backend line is the short one: each reason without its parenthesised detail, and a pointer to npm run doctor', async () => {
  const r = await useBestBackend({ print: false, env: process.env });
  const head = r.line.split('; not used: ')[0];
  assert.ok(r.short.startsWith(head), r.short);
  assert.ok(r.short.length <= r.line.length);
  // Either the whole line (nothing to leave out, or the details are shorter than the pointer),
  // or each reason in brief and the pointer to the doctor.
  if (r.short !== r.line) {
    for (const s of r.skipped) {
      const brief = briefReason(s);
      assert.ok(r.short.includes(brief), `${brief} is missing from ${r.short}`);
      if (brief !== s) assert.ok(!r.short.includes(s), `the detail of "${s}" is printed`);
    }
    assert.match(r.short, /\(npm run doctor says why\)$/);
  }
  // What useBestBackend prints is that line, once.
  const printed: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void printed.push(a.join(' '));
  try {
    await useBestBackend({ env: process.env });
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, [r.short]);
});

test("an uncaught margin-lab error is printed at the code that threw it, not under the wasm bundle's rethrow", () => {
  const { spawnSync } = require('child_process') as typeof import('child_process');
  for (const how of ['throw', 'reject']) {
    const script = `
      const ml = require('margin-lab');
      (async () => {
        const n = () => process.listeners('uncaughtException').length + process.listeners('unhandledRejection').length;
        const before = n();
        await ml.useBestBackend({ print: false, env: { MARGIN_LAB_BACKEND: 'wasm' } });
        if (n() !== before) { console.error('handlers left: ' + (n() - before)); process.exit(3); }
        ${how === 'throw' ? 'setImmediate(() => ml.arcFace({ numClasses: 3, embeddingDim: 2, m: 28.6 }));' : "Promise.reject(new Error('rejected on purpose'));"}
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 1, `${how}: exit ${r.status}\n${r.stderr}`);
    const first = r.stderr.split('\n').find((l) => l.trim() !== '') ?? '';
    assert.ok(!/tf-backend-wasm/.test(first), `${how}: the first line is the wasm bundle's: ${first}`);
    assert.match(
      r.stderr,
      how === 'throw' ? /LossInputError: arcface: m must be a number in \[0, π\/2\), got 28\.6/ : /rejected on purpose/,
    );
    if (how === 'throw') assert.match(first, /dist\/losses\/spec\.js/);
  }
});

test('auto mode: when threaded wasm cannot start, the single-threaded wasm build runs (not the plain-JS cpu backend) and the line says why', () => {
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const path = require('path') as typeof import('path');
  const { ROOT } = require('./helpers/paths') as typeof import('./helpers/paths');
  for (const mode of ['no-sab', 'no-workers']) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'wasm-no-threads.js'), mode], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      backend: string;
      threads: number;
      skipped: string[];
      short: string;
      sq: number;
    };
    assert.equal(out.backend, 'wasm', `${mode}: ${out.short}`);
    assert.equal(out.threads, 1);
    assert.equal(out.sq, 9, 'the single-threaded build computes');
    assert.ok(
      out.skipped.some((s) => /^wasm with 2 thread\(s\) failed to start/.test(s)),
      `${mode}: the line does not say the threaded build failed: ${out.short}`,
    );
  }
});

test('version gate: margin-lab changes TF.js only on the release it was written for; MARGIN_LAB_STOCK_KERNELS=1 turns its replacement kernels off', () => {
  const { patchDecision, PATCHED_FOR } = require('margin-lab/dist/backend') as typeof import('margin-lab/dist/backend');
  const same = { '@tensorflow/tfjs-core': PATCHED_FOR, '@tensorflow/tfjs-backend-wasm': PATCHED_FOR };
  assert.deepEqual(patchDecision('wasm', {}, same), { kernels: true, threads: true });
  const newer = patchDecision('wasm', {}, { ...same, '@tensorflow/tfjs-backend-wasm': '4.23.0' });
  assert.equal(newer.kernels, false);
  assert.equal(newer.threads, false);
  assert.match(newer.note!, /written for TF\.js 4\.22\.0, this is @tensorflow\/tfjs-backend-wasm 4\.23\.0/);
  assert.match(newer.note!, /review src\/backend\/wasm-threads\.ts, src\/backend\/wasm-fast-kernels\.ts/);
  // An absent package is no mismatch (webgpu not installed); tfjs-core gates every group.
  assert.equal(patchDecision('webgpu', {}, { '@tensorflow/tfjs-core': PATCHED_FOR }).kernels, true);
  assert.equal(patchDecision('tensorflow', {}, { '@tensorflow/tfjs-core': '5.0.0' }).kernels, false);
  const stock = patchDecision('tensorflow', { MARGIN_LAB_STOCK_KERNELS: '1' }, same);
  assert.deepEqual(stock, {
    kernels: false,
    threads: true,
    note: "margin-lab's tensorflow kernels (MARGIN_LAB_STOCK_KERNELS=1)",
  });
  assert.equal(patchDecision('wasm', { MARGIN_LAB_STOCK_KERNELS: '0' }, same).kernels, true);
  assert.throws(
    () => patchDecision('wasm', { MARGIN_LAB_STOCK_KERNELS: 'yes' }, same),
    /MARGIN_LAB_STOCK_KERNELS="yes": expected 1 \(TF\.js's own kernels only\) or 0/,
  );
});

test('version gate in a real start: stock kernels, or (on another TF.js version) stock kernels and one thread, said in the backend line; a conv still trains', () => {
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const path = require('path') as typeof import('path');
  const { ROOT } = require('./helpers/paths') as typeof import('./helpers/paths');
  const run = (mode: string) => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'test', 'fixtures', 'patch-gate.js'), mode], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `${mode}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      line: string;
      threads: number;
      fast: boolean[];
      grads: number[];
    };
  };
  const plain = run('plain');
  assert.deepEqual(plain.fast, [true, true, true, true], plain.line);
  assert.equal(plain.threads, 2);
  assert.ok(!/not used/.test(plain.line), plain.line);
  const stock = run('stock');
  assert.deepEqual(stock.fast, [false, false, false, false], 'MARGIN_LAB_STOCK_KERNELS=1 left a replacement kernel on');
  assert.equal(stock.threads, 2, 'stock kernels keep the threads');
  assert.match(stock.line, /not used: margin-lab's wasm kernels \(MARGIN_LAB_STOCK_KERNELS=1\)$/);
  const newer = run('newer');
  assert.deepEqual(newer.fast, [false, false, false, false]);
  assert.equal(newer.threads, 1);
  assert.match(
    newer.line,
    /margin-lab's wasm patches \(written for TF\.js 4\.22\.0, this is @tensorflow\/tfjs-core 4\.99\.0: TF\.js's own kernels, single-threaded; review src\/backend\/wasm-threads\.ts/,
  );
  // The same gradients every way (the conv filter gradient is margin-lab's addition, kept on).
  assert.deepEqual(stock.grads, plain.grads);
  assert.deepEqual(newer.grads, plain.grads);
});

test('canary: the installed TF.js packages are the release the backend patches were written for (a tfjs upgrade fails here, naming the files to review)', () => {
  const { PATCHED_FOR, PATCH_FILES, PATCH_PACKAGES, installedVersions } =
    require('margin-lab/dist/backend') as typeof import('margin-lab/dist/backend');
  const v = installedVersions();
  const changed = Object.entries(v).filter(([, ver]) => ver !== null && ver !== PATCHED_FOR);
  const files = (pkg: string) =>
    pkg === '@tensorflow/tfjs-core'
      ? Object.values(PATCH_FILES).flat()
      : Object.entries(PATCH_PACKAGES)
          .filter(([, pkgs]) => pkgs.includes(pkg))
          .flatMap(([g]) => PATCH_FILES[g as keyof typeof PATCH_FILES]);
  assert.deepEqual(
    changed.map(
      ([p, ver]) =>
        `${p} is ${ver}, not ${PATCHED_FOR}: review ${files(p).join(', ')}, then raise PATCHED_FOR in src/backend/patches.ts`,
    ),
    [],
  );
  assert.equal(v['@tensorflow/tfjs-core'], PATCHED_FOR);
  assert.equal(v['@tensorflow/tfjs-backend-wasm'], PATCHED_FOR);
});

test('backend selection is an ordered candidate list: the first that starts wins, and every earlier reason is reported in order', async () => {
  const { chooseFirst, autoCandidates } =
    require('margin-lab/dist/backend') as typeof import('margin-lab/dist/backend');
  assert.deepEqual(
    autoCandidates({}, 4).map((c) => c.name),
    ['tensorflow (CUDA)', 'webgpu', 'tensorflow (CPU)', 'wasm (4 threads)', 'wasm (1 thread)', 'cpu'],
  );
  assert.deepEqual(
    autoCandidates({}, 1).map((c) => c.name),
    ['tensorflow (CUDA)', 'webgpu', 'tensorflow (CPU)', 'wasm (1 thread)', 'cpu'],
  );
  // Injected probes: which candidates ran, and what the winner was told.
  const ran: string[] = [];
  const fake = (name: string, ok: boolean, reasons: string[] = []) => ({
    name,
    start: async (skipped: string[]) => {
      ran.push(name);
      return ok
        ? {
            ok: true as const,
            report: { backend: 'cpu', skipped: [...skipped], line: name } as unknown as BackendReport,
          }
        : { ok: false as const, reasons };
    },
  });
  const r = await chooseFirst([
    fake('a', false, ['a: no']),
    fake('b', false, ['b: no', 'b: really']),
    fake('c', true),
    fake('d', true),
  ]);
  assert.equal(r.line, 'c');
  assert.deepEqual(r.skipped, ['a: no', 'b: no', 'b: really']);
  assert.deepEqual(ran, ['a', 'b', 'c'], 'a later candidate was tried after one started');
  await assert.rejects(chooseFirst([fake('x', false, ['x: no'])]), /no backend started: x: no/);
  // One list for both modes: MARGIN_LAB_BACKEND=NAME keeps that backend's candidates, in order.
  const byBackend = (b: string) =>
    autoCandidates({}, 4)
      .filter((c) => c.backend === b)
      .map((c) => c.name);
  assert.deepEqual(byBackend('tensorflow'), ['tensorflow (CUDA)', 'tensorflow (CPU)']);
  assert.deepEqual(byBackend('wasm'), ['wasm (4 threads)', 'wasm (1 thread)']);
  assert.deepEqual(byBackend('webgpu'), ['webgpu']);
  assert.deepEqual(byBackend('cpu'), ['cpu']);
  // The forced flag reaches each candidate (webgpu takes a software adapter only then).
  const told: boolean[] = [];
  await chooseFirst(
    [
      {
        name: 'f',
        start: async (_s: string[], forced?: boolean) => (
          told.push(!!forced),
          { ok: false as const, reasons: ['f: no'] }
        ),
      },
      fake('g', true),
    ],
    true,
  );
  assert.deepEqual(told, [true]);
});
