/**
 * Backend selection. margin-lab never falls back silently: `useBestBackend()` tries the backends
 * in order of speed, records why each better one was skipped, and prints a one-line report.
 *
 *   1. `tensorflow` via @tensorflow/tfjs-node-gpu, when a CUDA device is visible
 *   2. `webgpu`     via @tensorflow/tfjs-backend-webgpu on Dawn (npm `webgpu`), on a hardware adapter
 *                   (Vulkan, Metal or D3D12; see `webgpu.ts`)
 *   3. `tensorflow` via @tensorflow/tfjs-node (libtensorflow on the CPU)
 *   4. `wasm`       via @tensorflow/tfjs-backend-wasm (XNNPACK; faster gradient kernels registered by us,
 *                   multi-threaded in Node through `wasm-threads.ts`)
 *   5. `cpu`        plain JavaScript, ~100x slower than wasm for conv training
 *
 * `MARGIN_LAB_BACKEND=tensorflow|webgpu|wasm|cpu` forces one and throws if it cannot be loaded;
 * webgpu on a software adapter (SwiftShader, lavapipe) is used only when forced.
 * `MARGIN_LAB_THREADS=N` sets wasm's thread count (default: the number of cores, at most 8;
 * 1 uses the single-threaded SIMD build), and TensorFlow's intra-op pool for `tensorflow` on the
 * CPU (default: TensorFlow's own, every core).
 */
import * as tf from '../tf';
import * as os from 'os';
import { spawnSync } from 'child_process';
import { registerWasmConvGradients } from './wasm-conv-grad';
import { registerWasmSegmentSum } from './wasm-segment-sum';
import { registerWasmFastKernels } from './wasm-fast-kernels';
import { withNodeWasmThreads } from './wasm-threads';
import { registerTensorflowKernels } from './tensorflow-kernels';
import { patchDecision, PatchGroup } from './patches';

import { AdapterSummary, adapterLine, probeAdapters, startWebgpu } from './webgpu';

export { registerWasmConvGradients, checkSupportedConv } from './wasm-conv-grad';
export {
  AdapterSummary,
  ProbeResult,
  probeAdapters,
  adapterLine,
  activeAdapter,
  readSyncAvailable,
  dawnBinary,
} from './webgpu';
export { registerWasmSegmentSum } from './wasm-segment-sum';
export { registerWasmFastKernels, wasmFastKernelActive } from './wasm-fast-kernels';
export { registerTensorflowKernels, stockReluGradient } from './tensorflow-kernels';
export {
  PATCHED_FOR,
  PATCH_FILES,
  PATCH_PACKAGES,
  patchDecision,
  installedVersions,
  stockKernelsRequested,
} from './patches';
import { commandLine } from '../util/commands';
export type { PatchDecision, PatchGroup } from './patches';

/** The most threads tfjs-backend-wasm's XNNPACK pool can use (it pre-creates 8 workers). */
export const MAX_WASM_THREADS = 8;

/**
 * The wasm thread count asked for by `MARGIN_LAB_THREADS`, or the default: the number of cores,
 * at most 8. Throws on anything that is not an integer from 1 to 8.
 */
export function requestedThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.MARGIN_LAB_THREADS;
  if (raw === undefined || raw === '') return Math.max(1, Math.min(MAX_WASM_THREADS, os.cpus().length));
  const n = Number(raw);
  if (!(/^\s*\d+\s*$/.test(raw) && Number.isInteger(n) && n >= 1 && n <= MAX_WASM_THREADS)) {
    throw new Error(
      `MARGIN_LAB_THREADS=${JSON.stringify(raw)} is not a thread count; expected an integer from 1 to ${MAX_WASM_THREADS} (this machine has ${os.cpus().length} cores)`,
    );
  }
  return n;
}

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface BackendReport {
  /** tfjs backend name now active. */
  backend: BackendName;
  /** Human-readable device: GPU name, or CPU model. */
  device: string;
  /** Which npm package provides the backend. */
  provider: string;
  /** Why each better backend was not used (empty when the best one loaded). */
  skipped: string[];
  /** True when MARGIN_LAB_BACKEND chose it. */
  forced: boolean;
  /** The full report: the backend, device, provider and every reason a faster one was not used (doctor, benchmark reports, run configs). */
  line: string;
  /**
   * What `useBestBackend` prints: the same, with each reason cut to its first clause and a pointer
   * to `npm run doctor` for the rest (the full line runs to hundreds of characters).
   */
  short: string;
  /**
   * wasm: the threads XNNPACK uses (1 = the single-threaded SIMD build); tensorflow on the CPU:
   * its intra-op pool, where MARGIN_LAB_THREADS or TF_NUM_INTRAOP_THREADS set it.
   */
  threads?: number;
  /** webgpu only: the adapter it runs on. */
  adapter?: AdapterSummary;
}

function cpuName(): string {
  const cpus = os.cpus();
  const model = cpus.length > 0 ? cpus[0].model.trim() : 'unknown CPU';
  return `CPU (${model}, ${cpus.length} cores)`;
}

/** Names of CUDA GPUs visible through nvidia-smi; [] when none or no driver. */
export function visibleGpus(): string[] {
  try {
    const r = spawnSync('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], {
      encoding: 'utf8',
      timeout: 10000,
    });
    if (r.status !== 0 || !r.stdout) return [];
    return r.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0];
}

type Tried = { ok: true; device: string; provider: string; threads?: number } | { ok: false; reasons: string[] };

/** Tries tfjs-node-gpu on a visible CUDA device. */
function tryTensorflowGpu(): Tried {
  if (!isInstalled('@tensorflow/tfjs-node-gpu')) return { ok: false, reasons: ['tfjs-node-gpu not installed'] };
  const gpus = visibleGpus();
  if (gpus.length === 0)
    return { ok: false, reasons: ['tfjs-node-gpu installed but no CUDA device visible (nvidia-smi lists none)'] };
  try {
    require('@tensorflow/tfjs-node-gpu');
    return { ok: true, device: `GPU (${gpus[0]})`, provider: '@tensorflow/tfjs-node-gpu' };
  } catch (e) {
    return { ok: false, reasons: [`tfjs-node-gpu failed to load (needs CUDA 11.2 + cuDNN 8.1): ${firstLine(e)}`] };
  }
}

/**
 * The TensorFlow thread pools follow `MARGIN_LAB_THREADS` when it is set, as wasm's and the bench's
 * PyTorch do: `TF_NUM_INTRAOP_THREADS` = N (the pool one op's kernel splits over, as
 * `torch.set_num_threads`) and `TF_NUM_INTEROP_THREADS` = 1 (eager ops run one after another), set
 * before libtensorflow starts, which reads them when it creates its context. TF_* variables the
 * user set win and are reported as such. Returns the intra-op count, or null for TF's own default
 * (every core).
 */
function tensorflowThreads(env: NodeJS.ProcessEnv = process.env): number | null {
  const user = env.TF_NUM_INTRAOP_THREADS;
  if (user !== undefined && user !== '') {
    const n = Number(user);
    if (!(/^\s*\d+\s*$/.test(user) && n >= 1))
      throw new Error(`TF_NUM_INTRAOP_THREADS=${JSON.stringify(user)} is not a thread count; expected an integer ≥ 1`);
    return n;
  }
  if (env.MARGIN_LAB_THREADS === undefined || env.MARGIN_LAB_THREADS === '') return null;
  const n = requestedThreads(env);
  // libtensorflow reads the process's own environment.
  process.env.TF_NUM_INTRAOP_THREADS = String(n);
  if (!process.env.TF_NUM_INTEROP_THREADS) process.env.TF_NUM_INTEROP_THREADS = '1';
  return n;
}

/** Tries tfjs-node (libtensorflow on the CPU). */
function tryTensorflowCpu(env: NodeJS.ProcessEnv = process.env): Tried {
  if (!isInstalled('@tensorflow/tfjs-node')) return { ok: false, reasons: ['tfjs-node not installed'] };
  try {
    const threads = tensorflowThreads(env);
    require('@tensorflow/tfjs-node');
    if (patchDecision('tensorflow', env).kernels) registerTensorflowKernels();
    // The binding reports the TensorFlow C library it runs on (2.21 when built by native:setup).
    const b = tf.findBackend('tensorflow') as unknown as { binding?: { TF_Version?: string } } | undefined;
    const version = b?.binding?.TF_Version ? ` ${b.binding.TF_Version}` : '';
    const onednn = process.env.TF_ENABLE_ONEDNN_OPTS === '0' ? ', oneDNN off' : ', oneDNN';
    const pool = threads === null ? '' : `, ${threads} intra-op thread${threads === 1 ? '' : 's'}`;
    return {
      ok: true,
      device: `${cpuName()} via libtensorflow${version}${onednn}${pool}`,
      provider: '@tensorflow/tfjs-node',
      ...(threads === null ? {} : { threads }),
    };
  } catch (e) {
    return { ok: false, reasons: [`tfjs-node failed to load: ${firstLine(e)}`] };
  }
}

/**
 * Starts webgpu on the first hardware adapter (or, when `allowSoftware`, on a software one if no
 * hardware adapter exists). Returns the adapter, or why webgpu was not used.
 */
async function tryWebgpu(
  allowSoftware: boolean,
  env: NodeJS.ProcessEnv,
): Promise<{ ok: true; adapter: AdapterSummary } | { ok: false; reasons: string[] }> {
  const probe = probeAdapters();
  if (probe.problems.length > 0) return { ok: false, reasons: probe.problems.map((p) => `webgpu: ${p}`) };
  const hardware = probe.adapters.filter((a) => !a.fallback);
  const pick = hardware[0] ?? (allowSoftware ? probe.adapters[0] : undefined);
  if (!pick) {
    return {
      ok: false,
      reasons: [
        `webgpu: only a software adapter (${probe.adapters.map(adapterLine).join('; ')}), used only when forced with MARGIN_LAB_BACKEND=webgpu`,
      ],
    };
  }
  try {
    await startWebgpu(pick, { kernels: patchDecision('webgpu', env).kernels });
    return { ok: true, adapter: pick };
  } catch (e) {
    return { ok: false, reasons: [`webgpu on ${adapterLine(pick)} failed to start: ${firstLine(e)}`] };
  }
}

async function activate(name: BackendName): Promise<void> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed (active: ${tf.getBackend()})`);
}

/**
 * Runs `fn` (which starts the wasm module) and then takes off the process-wide handlers that
 * Emscripten's start-up code installs: an `uncaughtException` and an `unhandledRejection` listener
 * that only rethrow. Node's own handling does the same, but with them every uncaught error, a
 * margin-lab error message included, is printed under the wasm bundle's `throw ex;` line instead
 * of the code that threw it.
 */
async function withoutEmscriptenHandlers<T>(fn: () => Promise<T>): Promise<T> {
  const events = ['uncaughtException', 'unhandledRejection'];
  const listeners = (e: string) => process.listeners(e as 'uncaughtException') as unknown[];
  const before = events.map((e) => new Set(listeners(e)));
  try {
    return await fn();
  } finally {
    events.forEach((e, i) => {
      for (const l of listeners(e))
        if (!before[i].has(l)) process.removeListener(e as 'uncaughtException', l as () => void);
    });
  }
}

/**
 * Starts wasm with `threads` threads (one where the version gate keeps the threaded start off);
 * returns the threads it runs with, or why it failed. The wasm module itself knows its thread
 * count once started: nothing here keeps it.
 */
async function tryWasm(
  threads: number,
  env: NodeJS.ProcessEnv,
): Promise<{ ok: true; threads: number } | { ok: false; reason: string }> {
  const gate = patchDecision('wasm', env);
  if (!gate.threads) threads = 1;
  try {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
    // Kernels TF.js's wasm backend lacks (only registered where it has none).
    registerWasmConvGradients();
    registerWasmSegmentSum();
    if (gate.kernels) registerWasmFastKernels();
    if ((tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm !== undefined) {
      // Already started in this process: the thread count cannot change any more.
      await activate('wasm');
      const running = wasm.getThreadsCount();
      if (running !== threads)
        return {
          ok: false,
          reason: `wasm already runs with ${running} thread(s) in this process; ${threads} can only be chosen before it first starts`,
        };
      return { ok: true, threads: running };
    }
    if (threads > 1)
      return {
        ok: true,
        threads: await withoutEmscriptenHandlers(() => withNodeWasmThreads(threads, () => activate('wasm'))),
      };
    await withoutEmscriptenHandlers(() => activate('wasm'));
    return { ok: true, threads: 1 };
  } catch (e) {
    const hint = threads > 1 ? ' (MARGIN_LAB_THREADS=1 uses the single-threaded build)' : '';
    return { ok: false, reason: `wasm with ${threads} thread(s) failed to start: ${firstLine(e)}${hint}` };
  }
}

/** After a failed threaded start: let the next wasm start pick the single-threaded build. */
function resetWasmThreadFlag(): void {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
}

function wasmProvider(threads: number): string {
  return `@tensorflow/tfjs-backend-wasm, ${threads > 1 ? 'threaded SIMD build' : 'SIMD build'}`;
}

function wasmDevice(threads: number): string {
  return `${cpuName()}, ${threads} thread${threads === 1 ? '' : 's'}`;
}

function requestedBackend(env: NodeJS.ProcessEnv): BackendName | null {
  const raw = env.MARGIN_LAB_BACKEND;
  if (raw === undefined || raw === '') return null;
  if (!(BACKEND_NAMES as readonly string[]).includes(raw)) {
    throw new Error(
      `MARGIN_LAB_BACKEND=${JSON.stringify(raw)} is not a backend; expected one of ${BACKEND_NAMES.join(', ')}`,
    );
  }
  return raw as BackendName;
}

/**
 * A skip reason in brief: without its parenthesised details, wherever they stand, and without
 * what to do about it (after the reason's own ": "), so no clause is cut in the middle:
 * "webgpu: no adapter (no Vulkan driver …)" → "webgpu: no adapter"; "webgpu: the optional package
 * `webgpu` (Dawn for Node) is not installed: npm install webgpu@0.6.2" → "webgpu: the optional
 * package `webgpu` is not installed". The doctor prints them whole.
 */
export function briefReason(reason: string): string {
  let s = reason;
  // Innermost parentheses first, so nested ones go too.
  for (let prev = ''; prev !== s;) {
    prev = s;
    s = s.replace(/ ?\([^()]*\)/g, '');
  }
  const prefix = /^[\w@/.+-]+: /.exec(s)?.[0] ?? '';
  const rest = s.slice(prefix.length);
  const cut = rest.indexOf(': ');
  return (prefix + (cut > 0 ? rest.slice(0, cut) : rest)).trim();
}

function makeReport(
  backend: BackendName,
  device: string,
  provider: string,
  skipped: string[],
  forced: boolean,
  threads?: number,
): BackendReport {
  const why = skipped.length ? `; not used: ${skipped.join('; ')}` : '';
  const head = `margin-lab backend: ${backend} on ${device} [${provider}${forced ? ', forced by MARGIN_LAB_BACKEND' : ''}]`;
  const line = `${head}${why}`;
  const brief = skipped.map(briefReason);
  const pointed = `${head}; not used: ${brief.join('; ')} (${commandLine('doctor')} says why)`;
  // The short line is for brevity: where the details are shorter than the pointer, the whole line.
  const short = brief.join('; ') === skipped.join('; ') || pointed.length >= line.length ? line : pointed;
  return { backend, device, provider, skipped, forced, line, short, ...(threads !== undefined ? { threads } : {}) };
}

function webgpuReport(adapter: AdapterSummary, skipped: string[], forced: boolean): BackendReport {
  const r = makeReport(
    'webgpu',
    `${adapter.fallback ? 'software adapter' : 'GPU'} ${adapterLine({ ...adapter, fallback: false })}`,
    '@tensorflow/tfjs-backend-webgpu on Dawn (webgpu)',
    skipped,
    forced,
  );
  return { ...r, adapter };
}

let lastReport: BackendReport | null = null;

/** The report of the last `useBestBackend()` call, or null when it was never called. */
export function backendReport(): BackendReport | null {
  return lastReport;
}

export interface UseBackendOptions {
  /** Print the one-line report (default true). */
  print?: boolean;
  /** Environment to read MARGIN_LAB_BACKEND from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * One way to run: `start` activates it, or says why it cannot. `forced` is true when
 * MARGIN_LAB_BACKEND named its backend (webgpu may then run on a software adapter).
 */
export interface BackendCandidate {
  /** What the candidate is, for tests and docs ("tensorflow (CUDA)", "webgpu", ...). */
  name: string;
  /** The backend it starts (MARGIN_LAB_BACKEND=NAME keeps the candidates of that backend). */
  backend?: BackendName;
  start: (
    skipped: string[],
    forced?: boolean,
  ) => Promise<{ ok: true; report: BackendReport } | { ok: false; reasons: string[] }>;
}

/**
 * Tries the candidates in order and returns the first that starts; the reasons of every one
 * before it are collected, in order, for the report's "not used" list. When none starts it
 * throws, listing every reason (in auto mode the plain-JS cpu backend, last, always starts).
 */
export async function chooseFirst(candidates: BackendCandidate[], forced = false): Promise<BackendReport> {
  const skipped: string[] = [];
  for (const c of candidates) {
    const r = await c.start(skipped, forced);
    if (r.ok) return r.report;
    skipped.push(...r.reasons);
  }
  throw new Error(`no backend started: ${skipped.join('; ')}`);
}

/**
 * The one list of ways to run, fastest first: libtensorflow on a CUDA GPU, WebGPU on a hardware
 * adapter (any adapter when forced), libtensorflow on the CPU, threaded wasm, single-threaded wasm
 * (when the threaded build failed), then the plain-JS cpu backend. Auto mode tries them all;
 * MARGIN_LAB_BACKEND=NAME tries those of that backend, and fails instead of falling back.
 */
export function backendCandidates(env: NodeJS.ProcessEnv, threads: number): BackendCandidate[] {
  let wasmFailed = false;
  const wasm = (n: number): BackendCandidate => ({
    name: n > 1 ? `wasm (${n} threads)` : 'wasm (1 thread)',
    backend: 'wasm',
    start: async (skipped, forced = false) => {
      if (n === 1 && threads > 1) {
        // Only after the threaded build failed: the single-threaded SIMD build is still ~100× the
        // plain-JS cpu backend, so it comes before that.
        if (!wasmFailed) return { ok: false, reasons: [] };
        resetWasmThreadFlag();
      }
      const w = await tryWasm(n, env);
      if (!w.ok) {
        wasmFailed = true;
        return { ok: false, reasons: [w.reason] };
      }
      return {
        ok: true,
        report: makeReport('wasm', wasmDevice(w.threads), wasmProvider(w.threads), skipped, forced, w.threads),
      };
    },
  });
  return [
    {
      name: 'tensorflow (CUDA)',
      backend: 'tensorflow',
      start: async (skipped, forced = false) => {
        const gpu = tryTensorflowGpu();
        if (!gpu.ok) return gpu;
        await activate('tensorflow');
        return { ok: true, report: makeReport('tensorflow', gpu.device, gpu.provider, skipped, forced) };
      },
    },
    {
      name: 'webgpu',
      backend: 'webgpu',
      start: async (skipped, forced = false) => {
        const web = await tryWebgpu(forced, env);
        return web.ok ? { ok: true, report: webgpuReport(web.adapter, skipped, forced) } : web;
      },
    },
    {
      name: 'tensorflow (CPU)',
      backend: 'tensorflow',
      start: async (skipped, forced = false) => {
        const c = tryTensorflowCpu(env);
        if (!c.ok) return c;
        await activate('tensorflow');
        return { ok: true, report: makeReport('tensorflow', c.device, c.provider, skipped, forced, c.threads) };
      },
    },
    ...(threads > 1 ? [wasm(threads), wasm(1)] : [wasm(1)]),
    {
      name: 'cpu',
      backend: 'cpu',
      start: async (skipped, forced = false) => {
        await activate('cpu');
        return { ok: true, report: makeReport('cpu', cpuName(), '@tensorflow/tfjs (plain JS, slow)', skipped, forced) };
      },
    },
  ];
}

/** The candidates auto mode tries (all of them): kept under its earlier name. */
export const autoCandidates = backendCandidates;

/** What to say when MARGIN_LAB_BACKEND names a backend that cannot run here. */
const FORCED_HINT: Partial<Record<BackendName, string>> = {
  tensorflow:
    'To use it, install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA 11.2 + cuDNN 8.1); both download libtensorflow at install time (offline in this repository: npm run native:setup).',
};

/**
 * Picks and activates the fastest backend that loads, prints a one-line report and returns it.
 * Honors MARGIN_LAB_BACKEND; a forced backend that cannot load throws with the reason.
 */
export async function useBestBackend(options: UseBackendOptions = {}): Promise<BackendReport> {
  const env = options.env ?? process.env;
  const forced = requestedBackend(env);
  const threads = requestedThreads(env);
  let report: BackendReport;
  const candidates = backendCandidates(env, threads);
  if (forced) {
    // Only the forced backend's candidates, and no fallback to another backend.
    try {
      report = await chooseFirst(
        candidates.filter((c) => c.backend === forced),
        true,
      );
    } catch (e) {
      const reasons = (e as Error).message.replace(/^no backend started: /, '');
      throw new Error(
        `MARGIN_LAB_BACKEND=${forced}, but it cannot be used: ${reasons}${FORCED_HINT[forced] ? `. ${FORCED_HINT[forced]}` : ''}`,
      );
    }
  } else {
    report = await chooseFirst(candidates);
  }
  // What the version gate or MARGIN_LAB_STOCK_KERNELS left off on the backend that runs.
  const group: PatchGroup | null =
    report.backend === 'wasm'
      ? 'wasm'
      : report.backend === 'webgpu'
        ? 'webgpu'
        : report.backend === 'tensorflow' && report.provider === '@tensorflow/tfjs-node'
          ? 'tensorflow'
          : null;
  const note = group ? patchDecision(group, env).note : undefined;
  if (note) {
    const r = makeReport(
      report.backend,
      report.device,
      report.provider,
      [...report.skipped, note],
      report.forced,
      report.threads,
    );
    report = { ...r, ...(report.adapter ? { adapter: report.adapter } : {}) };
  }
  lastReport = report;
  if (options.print ?? true) console.log(report.short);
  return report;
}
