/**
 * `npm run bench` end to end at a tiny size: it measures, prints the tables, compares train()
 * with the bench, and says in one line why PyTorch is skipped when no Python with torch is given.
 * (Speed itself is never asserted.)
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { ROOT } from './helpers/paths';

function bench(args: string[]) {
  return spawnSync(process.execPath, [path.join(ROOT, 'dist', 'cli', 'bench.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
  });
}

test('bench: wasm rows per thread count, train() comparison, profile, and a one-line torch skip', () => {
  const r = bench([
    '--workloads',
    'toy',
    '--steps',
    '2',
    '--warmup',
    '1',
    '--backends',
    'wasm',
    '--threads',
    '1,2',
    '--batches',
    'none',
    '--profile',
    '--python',
    '/nonexistent/python3',
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(
    out,
    /^torch: skipped: no python3 with torch \(\/nonexistent\/python3: .*\); on Debian: apt-get install python3-torch$/m,
  );
  assert.match(out, /^tfjs wasm\s+1\s+\d+\.\d\s+\d+\s+n\/a\s+.*1 thread$/m);
  assert.match(out, /^tfjs wasm\s+2\s+\d+\.\d\s+\d+\s+n\/a\s+.*2 threads$/m);
  assert.match(out, /the library's train\(\) on the same model and step/);
  assert.match(out, /^tfjs wasm\s+2\s+\d+\s+\d+\s+\d+\.\d%$/m);
  const profile = out.split('profile, toy step, tfjs wasm (2 threads)')[1] ?? '';
  assert.match(profile, /^Conv2DBackpropFilter\s+\d/m, 'the profile lists the filter gradient');
  assert.match(profile, /^Conv2D\s+\d/m);
});

test("bench: the recipe step is the headline: train() on the benchmark's own run, its profile, and PyTorch on the exported twin", () => {
  const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;
  const r = bench([
    '--steps',
    '2',
    '--warmup',
    '1',
    '--backends',
    'wasm',
    '--threads',
    '1',
    '--batches',
    'none',
    '--profile',
    ...(hasTorch ? ['--python', '/usr/bin/python3'] : ['--no-torch']),
  ]);
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  const recipe = out.split(/^recipe step /m)[1]?.split(/^toy step /m)[0] ?? '';
  assert.match(recipe, /SGD 0\.1 Nesterov, weight decay 5e-4/);
  assert.match(recipe, /^tfjs wasm\s+1\s+\d+\.\d\s+\d+\s/m);
  if (hasTorch) assert.match(recipe, /^PyTorch 1\.\d+\S*\s+1\s+\d+\.\d\s+\d+\s+1\.00×/m);
  // The profile is of the recipe's own kernels: BatchNorm and the 1,880-class head's product.
  const profile = recipe.split('profile, recipe step, tfjs wasm (1 threads)')[1] ?? '';
  assert.match(profile, /^(FusedBatchNorm|Conv2DBackpropFilter|Mean|Sum|Multiply)\s+\d/m, profile);
  assert.ok(out.indexOf('\nrecipe step') < out.indexOf('\ntoy step'), 'the recipe table comes first');
});

test('bench: --help, and bad flags are errors that name the value', () => {
  const h = bench(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^usage: npm run bench -- \[flags\]/);
  // Every flag the parser takes is in the help (both come from one declaration).
  for (const f of [
    'steps',
    'warmup',
    'backends',
    'threads',
    'batches',
    'profile',
    'no-torch',
    'python',
    'torch-device',
    'workloads',
  ])
    assert.match(h.stdout, new RegExp(`\\n  --${f}\\b`), `--${f} is missing from the help`);
  assert.match(h.stdout, /--threads <value> +wasm \/ tensorflow intra-op \/ PyTorch thread counts, a,b/);
  const a = bench(['--threads', '0']);
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /--threads must be a positive integer, got "0"/);
  const b = bench(['--backends', 'webgl']);
  assert.match(b.stderr, /--backends: "webgl" is not a backend; expected tensorflow, webgpu, wasm or cpu/);
  const c = bench(['--threads', '9']);
  assert.match(c.stderr, /--threads: 9 is more than the 8 threads tfjs-backend-wasm can use/);
  const d = bench(['--torch-device', 'gpu']);
  assert.match(d.stderr, /--torch-device must be cpu or cuda, got "gpu"/);
  const e = bench(['--torch-device', 'cuda', '--no-torch']);
  assert.match(e.stderr, /--torch-device cuda does not apply with --no-torch/);
  const w = bench(['--workloads', 'recipe,fast']);
  assert.match(w.stderr, /--workloads: "fast" is not a workload; expected recipe or toy/);
  const wb = bench(['--workloads', 'recipe', '--batches', '32']);
  assert.match(wb.stderr, /--batches applies to the toy workload only; add toy to --workloads/);
  const wc = bench(['--workloads', 'recipe', '--torch-device', 'cuda']);
  assert.match(
    wc.stderr,
    /--torch-device cuda applies to the toy workload only \(the recipe step runs PyTorch on the CPU\)/,
  );
  const f = bench(['--python', '/usr/bin/python3,,x']);
  assert.match(f.stderr, /--python "\/usr\/bin\/python3,,x": an item is empty/);
});

test('bench: several PyTorch builds in one run, each its own rows and ratio column; a Python without torch is named', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('no /usr/bin/python3 with torch here (apt-get install python3-torch)');
    return;
  }
  // The smallest wasm measurement: one thread, two steps, no batch-size table.
  const small = ['--backends', 'wasm', '--threads', '1', '--steps', '2', '--warmup', '1', '--batches', 'none'];
  const r = bench([...small, '--python', '/usr/bin/python3,/bin/false']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /torch: not used: \/bin\/false: /);
  assert.match(r.stdout, /vs PyTorch 1\.\d+[^,]*, same threads/);
  assert.match(r.stdout, /^PyTorch 1\.\d+\S*\s+1\s+\d+\.\d/m);
  // PyTorch on CUDA where there is none: the row is skipped with the reason, not faked.
  const cuda = bench([...small, '--python', '/usr/bin/python3', '--torch-device', 'cuda']);
  assert.equal(cuda.status, 0, cuda.stderr);
  assert.match(cuda.stdout, /--device cuda, but PyTorch \S+ sees no CUDA device/);
});

test('bench/torch_reference.py runs the same step (when a python3 with torch is installed)', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('no /usr/bin/python3 with torch here (apt-get install python3-torch); CI does not need it');
    return;
  }
  const r = spawnSync(
    '/usr/bin/python3',
    [
      path.join(ROOT, 'bench', 'torch_reference.py'),
      '--threads',
      '1',
      '--batch',
      '16',
      '--steps',
      '2',
      '--warmup',
      '1',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim());
  assert.equal(res.system, 'torch');
  assert.equal(res.threads, 1);
  assert.equal(res.batch, 16);
  assert.equal(res.step_ms.length, 2);
  assert.ok(res.step_ms.every((v: number) => v > 0));
  const bad = spawnSync('/usr/bin/python3', [path.join(ROOT, 'bench', 'torch_reference.py'), '--threads', '0'], {
    encoding: 'utf8',
  });
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--threads must be >= 1, got 0/);
});
