#!/usr/bin/env node
/**
 * `npm run bench`: training speed of the reference step (src/cli/bench-step.ts: referenceNet, ArcFace
 * s = 64 m = 0.5, Adam, batch 128) on every tfjs backend that loads here, wasm at 1 thread and at
 * the core count, and PyTorch running exactly the same model and step (bench/torch_reference.py)
 * when a `python3` with torch is available — all in one run, so the ratios compare like with like.
 * Then the step time at batch 32, 128 and 512 for wasm and torch. Prints medians and ratios;
 * asserts nothing about speed.
 *
 * Flags:
 *   --steps N       timed steps per measurement (default 20; the batch-size table uses at most 10)
 *   --warmup N      untimed steps first (default 3)
 *   --backends a,b  tfjs backends (default tensorflow,wasm; also webgpu; cpu is ~100× slower than wasm)
 *   --threads a,b   wasm / tensorflow intra-op / torch thread counts (default 1 and the number of cores)
 *   --batches a,b   batch sizes of the scaling table (default 32,128,512; "none" skips it)
 *   --profile       also list the 10 longest kernels of one step per tfjs backend
 *   --no-torch      skip PyTorch
  --torch-device  cpu (default) or cuda: where PyTorch runs the step (GPU machines)
 *   --torch-device  cpu (default) or cuda: where PyTorch runs the step (GPU machines)
 *   --python a,b    the Pythons to run torch with, one row set per PyTorch version (default
 *                   /usr/bin/python3, else python3, and MARGIN_LAB_TORCH_PYTHON when set)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { StepRequest, StepResult } from './bench-step';
import { FlagSpec, parseFlags, runMain, UsageError } from './common';
import { BACKEND_NAMES, MAX_WASM_THREADS } from '../backend';

/** The backends a bench can time (the source list, so a new backend appears here too). */
const BENCH_BACKENDS = BACKEND_NAMES;

const ROOT = path.resolve(__dirname, '..', '..');

const USAGE =
  'usage: npm run bench -- [flags]\nTimes one training step of the reference model on each tfjs backend and in PyTorch.';

/** The flags, each declared once (common.ts builds the help and parses them). */
const FLAGS: Record<string, FlagSpec> = {
  steps: { type: 'string', default: '20', help: 'timed steps per measurement (the batch-size table uses at most 10)' },
  warmup: { type: 'string', default: '3', help: 'untimed steps first' },
  backends: { type: 'string', default: 'tensorflow,wasm', help: `tfjs backends: ${BENCH_BACKENDS.join(', ')}` },
  threads: {
    type: 'string',
    help: 'wasm / tensorflow intra-op / PyTorch thread counts, a,b (default 1 and the number of cores)',
  },
  batches: { type: 'string', default: '32,128,512', help: 'batch sizes of the scaling table, a,b (none skips it)' },
  profile: { type: 'boolean', help: 'also list the 10 longest kernels of one step per tfjs backend' },
  'no-torch': { type: 'boolean', help: 'skip PyTorch' },
  python: {
    type: 'string',
    help: 'the Pythons to run torch with, a,b, one row set per PyTorch version (default /usr/bin/python3, else python3, and MARGIN_LAB_TORCH_PYTHON when set)',
  },
  'torch-device': { type: 'string', default: 'cpu', help: "PyTorch's device: cpu or cuda (the GPU check)" },
};

const TORCH_SCRIPT = path.join(ROOT, 'bench', 'torch_reference.py');

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function positiveInt(flag: string, raw: string): number {
  const n = Number(raw);
  if (!(/^\d+$/.test(raw.trim()) && n >= 1))
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** A comma list of paths: empty items and repeats are errors. */
function stringList(flag: string, raw: string): string[] {
  const items = raw.split(',').map((x) => x.trim());
  if (items.some((x) => x === '')) throw new UsageError(`${flag} ${JSON.stringify(raw)}: an item is empty`);
  if (new Set(items).size !== items.length) throw new UsageError(`${flag} ${JSON.stringify(raw)}: an item is repeated`);
  return items;
}

function intList(flag: string, raw: string): number[] {
  return raw.split(',').map((s) => positiveInt(flag, s.trim()));
}

interface Measurement {
  system: string;
  threads: number | null;
  batch: number;
  stepMs: number;
  /** Mean step time: the throughput measure that train()'s epoch average compares with. */
  meanStepMs: number;
  device: string;
  headMs?: number;
  kernels?: StepResult['kernels'];
  trainerSamplesPerSec?: number;
}

/** Runs one tfjs measurement in a child process; returns it or why it could not run. */
function tfjsRun(backend: string, threads: number, req: StepRequest): Measurement | string {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'bench-step.js'), JSON.stringify(req)], {
    encoding: 'utf8',
    env: { ...process.env, MARGIN_LAB_BACKEND: backend, MARGIN_LAB_THREADS: String(threads) },
    timeout: 30 * 60_000,
  });
  if (r.status !== 0) {
    const msg = (r.stderr || r.stdout || `exit ${r.status} ${r.signal ?? ''}`).trim().split('\n').pop() ?? '';
    return msg.replace(/^error: /, '').split('. To use it')[0];
  }
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as StepResult;
  return {
    system: `tfjs ${res.backend}`,
    threads: res.threads,
    batch: res.batch,
    stepMs: median(res.stepMs),
    meanStepMs: res.stepMs.reduce((a, b) => a + b, 0) / res.stepMs.length,
    device: res.device,
    headMs: res.headMs ? median(res.headMs) : undefined,
    kernels: res.kernels,
    trainerSamplesPerSec: res.trainerSamplesPerSec,
  };
}

/**
 * Every Python with torch among the candidates: `--python a,b`, or else Debian's /usr/bin/python3
 * (or python3) and `MARGIN_LAB_TORCH_PYTHON` (a venv's, e.g. with PyTorch 2.x). One row set per
 * distinct PyTorch version; the reasons for the ones without torch.
 */
function findTorchPythons(
  preferred: string[] | undefined,
  env: NodeJS.ProcessEnv = process.env,
): { found: Array<{ python: string; version: string }>; why: string[] } {
  const extra = env.MARGIN_LAB_TORCH_PYTHON ? [env.MARGIN_LAB_TORCH_PYTHON] : [];
  const debian = fs.existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : ['python3'];
  const candidates = preferred ?? [...debian, ...extra];
  const found: Array<{ python: string; version: string }> = [];
  const why: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
    if (r.status === 0) {
      const version = r.stdout.trim();
      if (!found.some((f) => f.version === version)) found.push({ python: py, version });
    } else why.push(`${py}: ${r.error ? r.error.message : r.stderr.trim().split('\n').pop() || `exit ${r.status}`}`);
  }
  return { found, why };
}

/** Where the bench's PyTorch runs (`--torch-device`); the tfjs backends are chosen by `--backends`. */
let torchDevice: 'cpu' | 'cuda' = 'cpu';

function torchRun(python: string, threads: number, batch: number, steps: number, warmup: number): Measurement | string {
  const r = spawnSync(
    python,
    [
      TORCH_SCRIPT,
      '--device',
      torchDevice,
      '--threads',
      String(threads),
      '--batch',
      String(batch),
      '--steps',
      String(steps),
      '--warmup',
      String(warmup),
    ],
    {
      encoding: 'utf8',
      timeout: 30 * 60_000,
    },
  );
  if (r.status !== 0) return (r.stderr || `exit ${r.status}`).trim().split('\n').pop() ?? 'failed';
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    error?: string;
    threads: number;
    batch: number;
    step_ms: number[];
    version: string;
    device?: string;
  };
  if (res.error) return res.error;
  const mean = res.step_ms.reduce((a, b) => a + b, 0) / res.step_ms.length;
  return {
    system: `PyTorch ${res.version}${torchDevice === 'cuda' ? ' (CUDA)' : ''}`,
    threads: res.threads,
    batch: res.batch,
    stepMs: median(res.step_ms),
    meanStepMs: mean,
    device: res.device ?? 'CPU',
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((t) => t[i].length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  console.log(fmt(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const t of rows) console.log(fmt(t));
}

async function main(): Promise<void> {
  const values = parseFlags(process.argv.slice(2), FLAGS, USAGE);
  const dev = String(values['torch-device']);
  if (dev !== 'cpu' && dev !== 'cuda')
    throw new UsageError(`--torch-device must be cpu or cuda, got ${JSON.stringify(dev)}`);
  if (dev === 'cuda' && values['no-torch']) throw new UsageError('--torch-device cuda does not apply with --no-torch');
  torchDevice = dev;
  const steps = positiveInt('--steps', String(values.steps));
  const warmup = Number(values.warmup);
  if (!(Number.isInteger(warmup) && warmup >= 0))
    throw new UsageError(`--warmup must be an integer ≥ 0, got ${JSON.stringify(values.warmup)}`);
  const backends = String(values.backends)
    .split(',')
    .map((s) => s.trim());
  for (const b of backends) {
    if (!(BENCH_BACKENDS as readonly string[]).includes(b))
      throw new UsageError(
        `--backends: ${JSON.stringify(b)} is not a backend; expected ${BENCH_BACKENDS.slice(0, -1).join(', ')} or ${BENCH_BACKENDS.at(-1)}`,
      );
  }
  const cores = os.cpus().length;
  const threads =
    typeof values.threads === 'string' ? intList('--threads', values.threads) : [...new Set([1, Math.min(8, cores)])];
  for (const t of threads)
    if (t > MAX_WASM_THREADS)
      throw new UsageError(`--threads: ${t} is more than the ${MAX_WASM_THREADS} threads tfjs-backend-wasm can use`);
  const batches = values.batches === 'none' ? [] : intList('--batches', String(values.batches));
  const batch = 128;

  console.log(
    `margin-lab bench: reference conv net, ArcFace (s=64, m=0.5), Adam 1e-3; median of ${steps} steps after ${warmup} warm-up`,
  );
  console.log(
    `machine: ${os.cpus()[0]?.model.trim()} × ${cores} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.arch()}, node ${process.version}`,
  );

  let torchPythons: Array<{ python: string; version: string }> = [];
  if (values['no-torch']) console.log('torch: skipped (--no-torch)');
  else {
    const pythons = typeof values.python === 'string' ? stringList('--python', values.python) : undefined;
    const { found, why } = findTorchPythons(pythons);
    if (found.length === 0)
      console.log(
        `torch: skipped: no python3 with torch (${why.join('; ') || 'none found'}); on Debian: apt-get install python3-torch`,
      );
    else for (const w of why) console.log(`torch: not used: ${w}`);
    for (const f of found) console.log(`torch: ${f.python} (PyTorch ${f.version}), bench/torch_reference.py`);
    torchPythons = found;
  }

  const rows: Measurement[] = [];
  const skipped: string[] = [];
  const req: StepRequest = { batch, steps, warmup, profile: !!values.profile, head: true, trainer: true };
  for (const b of backends) {
    // wasm's threads and tensorflow's intra-op pool (MARGIN_LAB_THREADS); webgpu has no thread count.
    const counts = b === 'webgpu' ? [Math.min(8, cores)] : threads;
    for (const t of counts) {
      const m = tfjsRun(b, t, req);
      if (typeof m === 'string') skipped.push(`tfjs ${b}: not available (${m})`);
      else rows.push(m);
    }
  }
  for (const py of torchPythons)
    for (const t of threads) {
      const m = torchRun(py.python, t, batch, steps, warmup);
      if (typeof m === 'string') skipped.push(`PyTorch ${py.version} (${t} threads): ${m}`);
      else rows.push(m);
    }
  for (const s of skipped) console.log(s);
  if (rows.length === 0) return;

  const torchSystems = [...new Set(rows.filter((r) => r.system.startsWith('PyTorch')).map((r) => r.system))];
  const torchAt = (system: string, t: number | null, bs: number) =>
    rows.find((r) => r.system === system && r.threads === t && r.batch === bs);
  console.log(`\nbatch ${batch}:`);
  printTable(
    [
      'system',
      'threads',
      'step ms',
      'samples/s',
      ...(torchSystems.length ? torchSystems.map((t) => `vs ${t}, same threads`) : ['vs PyTorch, same threads']),
      'vs wasm, most threads',
      'head ms',
      'device',
    ],
    rows.map((r) => {
      const refs = (torchSystems.length ? torchSystems : ['PyTorch']).map((sys) => torchAt(sys, r.threads, batch));
      const wasm = rows.filter((w) => w.system === 'tfjs wasm').sort((a, b) => (b.threads ?? 0) - (a.threads ?? 0))[0];
      return [
        r.system,
        r.threads === null ? '-' : String(r.threads),
        r.stepMs.toFixed(1),
        ((r.batch / r.stepMs) * 1000).toFixed(0),
        ...refs.map((ref) => (ref ? `${(r.stepMs / ref.stepMs).toFixed(2)}×` : 'n/a')),
        wasm && r !== wasm ? `${(r.stepMs / wasm.stepMs).toFixed(2)}×` : '-',
        r.headMs !== undefined ? `${r.headMs.toFixed(2)} (${((100 * r.headMs) / r.stepMs).toFixed(1)}%)` : '-',
        r.device,
      ];
    }),
  );

  const withTrainer = rows.filter((r) => r.trainerSamplesPerSec !== undefined);
  if (withTrainer.length > 0) {
    console.log(
      `\nthe library's train() on the same model and step (one epoch of ${steps} steps after a warm-up epoch; bench: mean of its ${steps} steps):`,
    );
    printTable(
      ['system', 'threads', 'train() samples/s', 'bench samples/s', 'train() / bench'],
      withTrainer.map((r) => {
        const bench = (r.batch / r.meanStepMs) * 1000;
        return [
          r.system,
          r.threads === null ? '-' : String(r.threads),
          r.trainerSamplesPerSec!.toFixed(0),
          bench.toFixed(0),
          `${((100 * r.trainerSamplesPerSec!) / bench).toFixed(1)}%`,
        ];
      }),
    );
  }

  if (values.profile) {
    for (const r of rows.filter((x) => x.kernels)) {
      const total = r.kernels!.reduce((a, k) => a + k.ms, 0);
      console.log(
        `\nprofile, ${r.system} (${r.threads ?? '-'} threads), one step, ${total.toFixed(1)} ms of kernel time; top 10:`,
      );
      printTable(
        ['kernel', 'ms', 'share', 'calls'],
        r
          .kernels!.slice(0, 10)
          .map((k) => [k.name, k.ms.toFixed(1), `${((100 * k.ms) / total).toFixed(1)}%`, String(k.calls)]),
      );
    }
  }

  const tfjsScaled = backends.filter((b) => rows.some((r) => r.system === `tfjs ${b}`));
  if (batches.length > 0 && tfjsScaled.length > 0) {
    const t = Math.max(...threads);
    const few = Math.min(steps, 10);
    const scaling: string[][] = [];
    // Ratios in this table are against the newest PyTorch found (the last candidate that has torch).
    const torchMs = new Map<number, number>();
    for (const py of torchPythons) {
      const torchRow = [`PyTorch ${py.version}`];
      const newest = py === torchPythons[torchPythons.length - 1];
      for (const bs of batches) {
        const tm = torchRun(py.python, t, bs, few, Math.min(warmup, 2));
        if (typeof tm !== 'string' && newest) torchMs.set(bs, tm.stepMs);
        torchRow.push(typeof tm === 'string' ? 'failed' : tm.stepMs.toFixed(1));
      }
      scaling.push(torchRow);
    }
    const ratioName = torchPythons.length ? `PyTorch ${torchPythons[torchPythons.length - 1].version}` : 'PyTorch';
    const wasmMs = new Map<number, number>();
    const measured: Array<{ backend: string; ms: Map<number, number> }> = [];
    for (const b of tfjsScaled) {
      const ms = new Map<number, number>();
      for (const bs of batches) {
        const m = tfjsRun(b, b === 'webgpu' ? Math.min(8, cores) : t, {
          batch: bs,
          steps: few,
          warmup: Math.min(warmup, 2),
          profile: false,
          head: false,
        });
        if (typeof m !== 'string') ms.set(bs, m.stepMs);
      }
      if (b === 'wasm') for (const [k, v] of ms) wasmMs.set(k, v);
      measured.push({ backend: b, ms });
    }
    for (const { backend, ms } of measured) {
      scaling.push([
        `tfjs ${backend}`,
        ...batches.map((bs) => {
          const v = ms.get(bs);
          if (v === undefined) return 'failed';
          const ratios: string[] = [];
          if (torchMs.has(bs)) ratios.push(`${(v / torchMs.get(bs)!).toFixed(2)}× ${ratioName}`);
          if (backend !== 'wasm' && wasmMs.has(bs)) ratios.push(`${(v / wasmMs.get(bs)!).toFixed(2)}× wasm`);
          return `${v.toFixed(1)}${ratios.length ? ` (${ratios.join(', ')})` : ''}`;
        }),
      ]);
    }
    console.log(
      `\nstep ms by batch size (wasm, tensorflow and PyTorch with ${t} threads; median of ${few} steps; in brackets: step-time ratios measured in this run):`,
    );
    printTable(['system', ...batches.map((b) => `batch ${b}`)], scaling);
  }
}

runMain(main);
