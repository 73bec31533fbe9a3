#!/usr/bin/env node
/**
 * `npm run bench`: training speed on every tfjs backend that loads here (each at 1 thread and at
 * the core count) and in PyTorch, for every Python with torch it is given — all in one run, so the
 * ratios compare like with like. Two workloads (src/cli/bench-step.ts):
 *  - the headline, 'recipe': the step `npm run benchmark` trains (face recipe, BN reference net
 *    with the neck, 128-D, ArcFace over 1,880 classes, SGD Nesterov + weight decay, batch 128),
 *    through train(); PyTorch runs the same network, loss and optimizer as the benchmark's PyTorch
 *    twin builds them (bench/torch_recipe.py on the run margin-lab exports);
 *  - 'toy': the reference step (referenceNet, ArcFace s = 64 m = 0.5 over 10 classes, 2-D, Adam,
 *    batch 128) and bench/torch_reference.py, then the step time at batch 32, 128 and 512.
 * Prints medians and ratios; asserts nothing about speed.
 *
 * Flags:
 *   --steps N       timed steps per measurement (default 20; the batch-size table uses at most 10)
 *   --warmup N      untimed steps first (default 3)
 *   --backends a,b  tfjs backends (default tensorflow,wasm; also webgpu; cpu is ~100× slower than wasm)
 *   --threads a,b   wasm / tensorflow intra-op / torch thread counts (default 1 and the number of cores)
 *   --batches a,b   batch sizes of the scaling table (default 32,128,512; "none" skips it)
 *   --workloads a,b recipe, toy or both (default recipe,toy)
 *   --profile       also list the 10 longest kernels of one step per tfjs backend and workload
 *   --no-torch      skip PyTorch
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
import { BENCHMARK_BUDGET_DEFAULTS, RECIPE_SUMMARY } from '../benchmark/config';
import { commandLine } from '../util/commands';

/** The backends a bench can time (the source list, so a new backend appears here too). */
const BENCH_BACKENDS = BACKEND_NAMES;

const ROOT = path.resolve(__dirname, '..', '..');

const USAGE = `usage: ${commandLine('bench', '[flags]')}\nTimes one training step on each tfjs backend and in PyTorch: the benchmark's face-recipe step (the headline), then the reference model's toy step.`;

/** The bench's workloads, headline first. */
const WORKLOADS = ['recipe', 'toy'] as const;
type Workload = (typeof WORKLOADS)[number];

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
  workloads: {
    type: 'string',
    default: WORKLOADS.join(','),
    help: "what to time, a,b: recipe (the benchmark's face-recipe step through train()) and toy (the reference model's step)",
  },
  profile: { type: 'boolean', help: 'also list the 10 longest kernels of one step per tfjs backend and workload' },
  'no-torch': { type: 'boolean', help: 'skip PyTorch' },
  python: {
    type: 'string',
    help: 'the Pythons to run torch with, a,b, one row set per PyTorch version (default /usr/bin/python3, else python3, and MARGIN_LAB_TORCH_PYTHON when set)',
  },
  'torch-device': { type: 'string', default: 'cpu', help: "PyTorch's device: cpu or cuda (the GPU check)" },
};

const TORCH_SCRIPT = path.join(ROOT, 'bench', 'torch_reference.py');
const TORCH_RECIPE_SCRIPT = path.join(ROOT, 'bench', 'torch_recipe.py');

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

/**
 * Runs one of the bench's PyTorch scripts (it prints one JSON line with `step_ms`) and returns its
 * measurement, or why there is none. `cuda`: the row is PyTorch on the GPU.
 */
function torchScript(python: string, args: string[], cuda: boolean): Measurement | string {
  const r = spawnSync(python, args, { encoding: 'utf8', timeout: 30 * 60_000 });
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
  return {
    system: `PyTorch ${res.version}${cuda ? ' (CUDA)' : ''}`,
    threads: res.threads,
    batch: res.batch,
    stepMs: median(res.step_ms),
    meanStepMs: res.step_ms.reduce((a, b) => a + b, 0) / res.step_ms.length,
    device: res.device ?? 'CPU',
  };
}

/** The PyTorch toy step (bench/torch_reference.py) on `--torch-device`. */
function torchRun(python: string, threads: number, batch: number, steps: number, warmup: number): Measurement | string {
  const args = ['--device', torchDevice, '--threads', threads, '--batch', batch, '--steps', steps, '--warmup', warmup];
  return torchScript(python, [TORCH_SCRIPT, ...args.map(String)], torchDevice === 'cuda');
}

/** The PyTorch recipe step (bench/torch_recipe.py) on the run exported to `runDir`, on the CPU. */
function torchRecipeRun(
  python: string,
  threads: number,
  runDir: string,
  steps: number,
  warmup: number,
): Measurement | string {
  const args = ['--run', runDir, '--threads', threads, '--steps', steps, '--warmup', warmup];
  return torchScript(python, [TORCH_RECIPE_SCRIPT, ...args.map(String)], false);
}

/** The header and rows of a step table: each row against each PyTorch at the same threads. */
function stepTable(rows: Measurement[], batch: number, withHead: boolean): { header: string[]; rows: string[][] } {
  const torchSystems = [...new Set(rows.filter((r) => r.system.startsWith('PyTorch')).map((r) => r.system))];
  const torchAt = (system: string, t: number | null) =>
    rows.find((r) => r.system === system && r.threads === t && r.batch === batch);
  const wasm = rows.filter((w) => w.system === 'tfjs wasm').sort((a, b) => (b.threads ?? 0) - (a.threads ?? 0))[0];
  return {
    header: [
      'system',
      'threads',
      'step ms',
      'samples/s',
      ...(torchSystems.length ? torchSystems.map((t) => `vs ${t}, same threads`) : ['vs PyTorch, same threads']),
      'vs wasm, most threads',
      ...(withHead ? ['head ms'] : []),
      'device',
    ],
    rows: rows.map((r) => {
      const refs = (torchSystems.length ? torchSystems : ['PyTorch']).map((sys) => torchAt(sys, r.threads));
      return [
        r.system,
        r.threads === null ? '-' : String(r.threads),
        r.stepMs.toFixed(1),
        ((r.batch / r.stepMs) * 1000).toFixed(0),
        ...refs.map((ref) => (ref ? `${(r.stepMs / ref.stepMs).toFixed(2)}×` : 'n/a')),
        wasm && r !== wasm ? `${(r.stepMs / wasm.stepMs).toFixed(2)}×` : '-',
        ...(withHead
          ? [r.headMs !== undefined ? `${r.headMs.toFixed(2)} (${((100 * r.headMs) / r.stepMs).toFixed(1)}%)` : '-']
          : []),
        r.device,
      ];
    }),
  };
}

/** The 10 longest kernels of each profiled row. */
function printProfiles(rows: Measurement[], what: string): void {
  for (const r of rows.filter((x) => x.kernels)) {
    const total = r.kernels!.reduce((a, k) => a + k.ms, 0);
    console.log(
      `\nprofile, ${what}, ${r.system} (${r.threads ?? '-'} threads), one step, ${total.toFixed(1)} ms of kernel time; top 10:`,
    );
    printTable(
      ['kernel', 'ms', 'share', 'calls'],
      r
        .kernels!.slice(0, 10)
        .map((k) => [k.name, k.ms.toFixed(1), `${((100 * k.ms) / total).toFixed(1)}%`, String(Math.round(k.calls))]),
    );
  }
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

/** The PyTorch with the highest version (major.minor.patch, as numbers), or undefined. */
function newestTorch<T extends { version: string }>(pythons: T[]): T | undefined {
  const key = (v: string) => (v.match(/\d+/g) ?? []).slice(0, 3).map(Number);
  return pythons.reduce<T | undefined>((best, p) => {
    if (!best) return p;
    const [a, b] = [key(p.version), key(best.version)];
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0) ? p : best;
    return best;
  }, undefined);
}

async function main(): Promise<void> {
  const givenFlags = new Set<string>();
  const values = parseFlags(process.argv.slice(2), FLAGS, USAGE, givenFlags);
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
  const workloads = stringList('--workloads', String(values.workloads)).map((w) => {
    if (!(WORKLOADS as readonly string[]).includes(w))
      throw new UsageError(`--workloads: ${JSON.stringify(w)} is not a workload; expected ${WORKLOADS.join(' or ')}`);
    return w as Workload;
  });
  if (!workloads.includes('toy') && givenFlags.has('batches'))
    throw new UsageError('--batches applies to the toy workload only; add toy to --workloads');
  if (!workloads.includes('toy') && torchDevice === 'cuda')
    throw new UsageError(
      '--torch-device cuda applies to the toy workload only (the recipe step runs PyTorch on the CPU); add toy to --workloads',
    );
  const batch = 128;

  console.log(`margin-lab bench: ${workloads.join(' and ')} step; median of ${steps} steps after ${warmup} warm-up`);
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
    for (const f of found) console.log(`torch: ${f.python} (PyTorch ${f.version})`);
    torchPythons = found;
  }

  /** Each backend at each thread count (webgpu has none), then each PyTorch at each. */
  const measureAll = (req: StepRequest, torch: (py: string, t: number) => Measurement | string) => {
    const rows: Measurement[] = [];
    const skipped: string[] = [];
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
        const m = torch(py.python, t);
        if (typeof m === 'string') skipped.push(`PyTorch ${py.version} (${t} threads): ${m}`);
        else rows.push(m);
      }
    for (const s of skipped) console.log(s);
    return rows;
  };

  if (workloads.includes('recipe')) {
    if (torchDevice === 'cuda' && torchPythons.length)
      console.log('torch: the recipe step runs PyTorch on the CPU only (--torch-device applies to the toy step)');
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'margin-lab-bench-recipe-'));
    try {
      // The run PyTorch trains: the benchmark's own model, loss and optimizer, exported once.
      const exported = tfjsRun('cpu', 1, {
        workload: 'recipe',
        batch,
        steps: 1,
        warmup: 1,
        profile: false,
        head: false,
        exportTo: runDir,
      });
      if (typeof exported === 'string' && torchPythons.length) console.log(`torch: recipe not exported (${exported})`);
      const rows = measureAll(
        { workload: 'recipe', batch, steps, warmup, profile: !!values.profile, head: false },
        (py, t) =>
          typeof exported === 'string'
            ? 'the recipe run could not be exported'
            : torchRecipeRun(py, t, runDir, steps, warmup),
      );
      if (rows.length) {
        console.log(
          `\nrecipe step (what npm run benchmark trains: ${RECIPE_SUMMARY.face}, ${BENCHMARK_BUDGET_DEFAULTS.dim}-D, ArcFace over the full glyph set's seen syllables), batch ${batch}; tfjs timed between train()'s steps:`,
        );
        const t = stepTable(rows, batch, false);
        printTable(t.header, t.rows);
        if (values.profile) printProfiles(rows, 'recipe step');
      }
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  }
  if (!workloads.includes('toy')) return;

  const req: StepRequest = { batch, steps, warmup, profile: !!values.profile, head: true, trainer: true };
  const rows = measureAll(req, (py, t) => torchRun(py, t, batch, steps, warmup));
  if (rows.length === 0) return;
  console.log(
    `\ntoy step (reference conv net, 2-D embedding, ArcFace s = 64, m = 0.5 over 10 classes, Adam 1e-3), batch ${batch}:`,
  );
  const table = stepTable(rows, batch, true);
  printTable(table.header, table.rows);

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

  if (values.profile) printProfiles(rows, 'toy step');

  const tfjsScaled = backends.filter((b) => rows.some((r) => r.system === `tfjs ${b}`));
  if (batches.length > 0 && tfjsScaled.length > 0) {
    const t = Math.max(...threads);
    const few = Math.min(steps, 10);
    const scaling: string[][] = [];
    // Ratios in this table are against the newest PyTorch found (the last candidate that has torch).
    const torchMs = new Map<number, number>();
    // The ratios are against the newest PyTorch given (by version, not by its place in --python).
    const newestPy = newestTorch(torchPythons);
    for (const py of torchPythons) {
      const torchRow = [`PyTorch ${py.version}`];
      const newest = py === newestPy;
      for (const bs of batches) {
        const tm = torchRun(py.python, t, bs, few, Math.min(warmup, 2));
        if (typeof tm !== 'string' && newest) torchMs.set(bs, tm.stepMs);
        torchRow.push(typeof tm === 'string' ? 'failed' : tm.stepMs.toFixed(1));
      }
      scaling.push(torchRow);
    }
    const ratioName = newestPy ? `PyTorch ${newestPy.version}` : 'PyTorch';
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
