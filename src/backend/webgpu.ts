/**
 * The optional WebGPU backend: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node bindings (the npm
 * package `webgpu`), so any Vulkan, Metal or D3D12 GPU trains without a CUDA toolkit.
 *
 * Three things make it usable from Node, and this file does each of them in one place:
 *
 * - **Finding adapters without noise or risk.** Dawn prints driver warnings straight to stderr and
 *   a broken driver can take the process down, so adapters are first listed by a child process
 *   (`webgpu-probe.js`) that prints JSON. Only when the caller is going to use an adapter is Dawn
 *   loaded in this process.
 * - **Choosing the adapter.** The package's own factory takes whatever `requestAdapter()` returns
 *   (a software adapter on a CPU-only machine). We register our own factory that opens the adapter
 *   we chose, with the same device limits the package asks for.
 * - **Reads.** The backend's synchronous read (`dataSync`) needs `OffscreenCanvas`, which Node does
 *   not have. Values already read asynchronously (`await t.data()`) stay cached and read fine; any
 *   other synchronous read gets an error that says what to do instead of
 *   "OffscreenCanvas is not defined". The library's training and evaluation paths read
 *   asynchronously (see `readSyncAvailable()`).
 */
import * as tf from '../tf';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { registerAccurateWebgpuKernels } from './webgpu-kernels';
import { commandLine } from '../util/commands';

/** One adapter as Dawn describes it. */
export interface AdapterSummary {
  /** e.g. 'nvidia', 'amd', 'intel', 'google' (SwiftShader). */
  vendor: string;
  /** e.g. 'hopper', 'rdna-3', 'swiftshader'. */
  architecture: string;
  /** The device string Dawn reports. */
  device: string;
  /** The driver description. */
  description: string;
  /** True for a software (CPU) adapter such as SwiftShader or lavapipe. */
  fallback: boolean;
  /** The Dawn backend the adapter runs on (vulkan, metal, d3d12, ...), when known. */
  backendType: string;
}

/** What the probe found: the adapters, or why there are none. */
export interface ProbeResult {
  adapters: AdapterSummary[];
  /** Why no adapter could be listed (missing package, no driver, ...), one line each. */
  problems: string[];
  /** Lines Dawn or the Vulkan loader printed while looking (warnings, driver errors). */
  driverLog: string[];
}

const PLATFORM_DIRS: Record<string, string> = {
  'linux-x64': 'linux-x64',
  'linux-arm64': 'linux-arm64',
  'darwin-x64': 'darwin-universal',
  'darwin-arm64': 'darwin-universal',
  'win32-x64': 'win32-x64',
  'win32-arm64': 'win32-arm64',
};

/** Path of Dawn's native module for this platform inside the `webgpu` package, or why there is none. */
export function dawnBinary(): { file: string } | { error: string } {
  let pkgJson: string;
  try {
    pkgJson = require.resolve('webgpu/package.json');
  } catch {
    return { error: 'the optional package `webgpu` (Dawn for Node) is not installed: npm install webgpu@0.6.2' };
  }
  const key = `${process.platform}-${process.arch}`;
  const dir = PLATFORM_DIRS[key];
  if (!dir) return { error: `the \`webgpu\` package has no Dawn build for ${key}` };
  return { file: path.join(path.dirname(pkgJson), 'dist', dir, 'dawn.node') };
}

/** The subset of the WebGPU API used here (typed loosely: Node's lib has no WebGPU types). */
interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(desc?: unknown): Promise<unknown>;
}
interface GpuLike {
  requestAdapter(opts?: Record<string, unknown>): Promise<GpuAdapterLike | null>;
}

/** The adapter requests tried, in order (Dawn offers different adapters to different asks). */
const ADAPTER_REQUESTS: Record<string, unknown>[] = [
  {},
  { powerPreference: 'high-performance' },
  { powerPreference: 'low-power' },
  { forceFallbackAdapter: true },
];
/** Options under which adapters are asked for; together they reach every adapter Dawn exposes. */
const ASKS: Array<{ flags: string[]; opts: Record<string, unknown> }> = [];
for (const backend of ['', 'vulkan', 'metal', 'd3d12', 'opengles']) {
  for (const opts of ADAPTER_REQUESTS) {
    ASKS.push({ flags: backend ? [`backend=${backend}`] : [], opts });
  }
}

function summarize(a: GpuAdapterLike, backendFlag: string): AdapterSummary {
  const info = a.info ?? {};
  const s = (k: string) => (typeof info[k] === 'string' ? (info[k] as string) : '');
  return {
    vendor: s('vendor') || 'unknown vendor',
    architecture: s('architecture') || 'unknown architecture',
    device: s('device'),
    description: s('description'),
    fallback:
      Boolean(info.isFallbackAdapter ?? a.isFallbackAdapter ?? false) ||
      /swiftshader|llvmpipe|lavapipe|warp/i.test(`${s('architecture')} ${s('description')} ${s('device')}`),
    backendType: s('backendType') || backendFlag || 'default',
  };
}

/** Key that identifies one physical adapter across the different asks. */
function adapterKey(a: AdapterSummary): string {
  return [a.vendor, a.architecture, a.device, a.description, a.fallback].join('|');
}

/**
 * Dawn's Vulkan surface code asks for XDG_RUNTIME_DIR and prints an error line for each adapter
 * request when it is unset (as in containers and CI). Compute needs no display, so a private empty
 * folder is enough to keep the logs clean.
 */
function ensureRuntimeDir(): void {
  if (process.platform !== 'linux' || process.env.XDG_RUNTIME_DIR) return;
  const dir = path.join(
    os.tmpdir(),
    `margin-lab-runtime-${typeof process.getuid === 'function' ? process.getuid() : 'user'}`,
  );
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
    process.env.XDG_RUNTIME_DIR = dir;
  } catch {
    // Only cosmetic: Dawn then prints its XDG_RUNTIME_DIR line.
  }
}

type DawnModule = { create(flags: string[]): GpuLike; globals: Record<string, unknown> };

function loadDawn(): DawnModule {
  ensureRuntimeDir();
  const bin = dawnBinary();
  if ('error' in bin) throw new Error(bin.error);
  try {
    return require(bin.file) as DawnModule;
  } catch (e) {
    throw new Error(`Dawn's native module ${bin.file} failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
}

/**
 * Lists the adapters in this process. Used by the probe script; call `probeAdapters()` instead,
 * which runs this in a child process.
 */
export async function listAdaptersInProcess(): Promise<AdapterSummary[]> {
  const dawn = loadDawn();
  const seen = new Map<string, AdapterSummary>();
  const gpus = new Map<string, GpuLike>();
  for (const ask of ASKS) {
    const key = ask.flags.join(',');
    if (!gpus.has(key)) gpus.set(key, dawn.create(ask.flags));
    let a: GpuAdapterLike | null = null;
    try {
      a = await gpus.get(key)!.requestAdapter(ask.opts);
    } catch {
      a = null;
    }
    if (!a) continue;
    const s = summarize(a, ask.flags[0]?.slice('backend='.length) ?? '');
    const k = adapterKey(s);
    const old = seen.get(k);
    if (!old || (old.backendType === 'default' && s.backendType !== 'default')) seen.set(k, s);
  }
  return [...seen.values()];
}

let probed: ProbeResult | null = null;

/**
 * Lists every adapter Dawn sees, in a child process (Dawn's driver warnings are collected, not
 * printed, and a crashing driver cannot take this process down). Cached per process.
 */
export function probeAdapters(refresh = false): ProbeResult {
  if (probed && !refresh) return probed;
  const problems: string[] = [];
  const bin = dawnBinary();
  if ('error' in bin) problems.push(bin.error);
  try {
    require.resolve('@tensorflow/tfjs-backend-webgpu');
  } catch {
    problems.push(
      'the optional package @tensorflow/tfjs-backend-webgpu is not installed: npm install @tensorflow/tfjs-backend-webgpu@4.22.0',
    );
  }
  if ('error' in bin) {
    probed = { adapters: [], problems, driverLog: [] };
    return probed;
  }
  const r = spawnSync(process.execPath, [path.join(__dirname, 'webgpu-probe.js')], {
    encoding: 'utf8',
    timeout: 60000,
    env: process.env,
  });
  const driverLog = [
    ...new Set(
      (r.stderr || '')
        .split('\n')
        .map((l) => l.trimEnd())
        .filter(Boolean),
    ),
  ];
  let adapters: AdapterSummary[] = [];
  const last = (r.stdout || '').trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(last) as { adapters?: AdapterSummary[]; error?: string };
    if (parsed.error) problems.push(parsed.error);
    adapters = parsed.adapters ?? [];
  } catch {
    problems.push(
      r.error
        ? `the adapter probe could not run: ${r.error.message}`
        : `the adapter probe exited with ${r.status ?? r.signal} and printed no result${driverLog.length ? ` (last driver line: ${driverLog[driverLog.length - 1]})` : ''}`,
    );
  }
  if (adapters.length === 0 && problems.length === 0) problems.push(noAdapterHint(driverLog));
  probed = { adapters, problems, driverLog };
  return probed;
}

/** Why Dawn found nothing, as specific as the driver log allows. */
function noAdapterHint(log: string[]): string {
  const joined = log.join(' ');
  if (/shaderUniform.*ArrayDynamicIndexing/.test(joined))
    return 'no usable adapter (the Vulkan driver found, Mesa lavapipe, lacks a feature Dawn requires; a GPU driver with Vulkan is needed, or for a software adapter VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)';
  if (/libvulkan|vulkan-1|Vulkan loader/i.test(joined) || process.platform === 'linux')
    return 'no adapter (no Vulkan driver found: Linux needs libvulkan1 and a Vulkan ICD, the GPU vendor driver or, for a software adapter, SwiftShader via VK_ICD_FILENAMES)';
  return 'no adapter (no Metal, D3D12 or Vulkan driver answered)';
}

/** One line that names an adapter. */
export function adapterLine(a: AdapterSummary): string {
  const what = [a.description || a.device, a.backendType !== 'default' ? a.backendType : ''].filter(Boolean).join(', ');
  return `${a.vendor} ${a.architecture}${what ? ` (${what})` : ''}${a.fallback ? ', software/fallback adapter' : ''}`;
}

let active: AdapterSummary | null = null;

/** The adapter the webgpu backend runs on, or null when it was not started. */
export function activeAdapter(): AdapterSummary | null {
  return active;
}

/**
 * Starts tfjs's webgpu backend on `adapter` (one from `probeAdapters()`): loads Dawn in this
 * process, registers a factory that opens exactly that adapter, and activates it. Throws with the
 * reason when anything is missing.
 */
export async function startWebgpu(adapter: AdapterSummary, opts: { kernels?: boolean } = {}): Promise<void> {
  const dawn = loadDawn();
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  const gpu = dawn.create(adapter.backendType !== 'default' ? [`backend=${adapter.backendType}`] : []);
  for (const [k, v] of Object.entries(dawn.globals)) {
    if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  }
  if (!g.navigator) g.navigator = { userAgent: `Node.js/${process.version}` };
  if (!g.navigator.gpu) g.navigator.gpu = gpu;
  let wg: {
    WebGPUBackend: new (device: unknown, info: unknown) => tf.KernelBackend;
    webgpu_util: Parameters<typeof registerAccurateWebgpuKernels>[0];
  };
  try {
    wg = require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-webgpu failed to load: ${(e as Error).message.split('\n')[0]}`);
  }
  // margin-lab's accurate trigonometry and chunked AddN, unless the version gate or MARGIN_LAB_STOCK_KERNELS says no.
  if (opts.kernels ?? true) registerAccurateWebgpuKernels(wg.webgpu_util);
  const want = adapterKey(adapter);
  const engine = tf.engine() as unknown as {
    registryFactory: Record<string, unknown>;
    registry: Record<string, unknown>;
  };
  if (engine.registry.webgpu !== undefined && active && adapterKey(active) === want) {
    await tf.setBackend('webgpu');
    return;
  }
  if (engine.registryFactory.webgpu !== undefined) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      let chosen: GpuAdapterLike | null = null;
      for (const ask of ADAPTER_REQUESTS) {
        const a = await gpu.requestAdapter(ask);
        if (a && adapterKey(summarize(a, adapter.backendType)) === want) {
          chosen = a;
          break;
        }
      }
      if (!chosen) throw new Error(`the adapter ${adapterLine(adapter)} is no longer offered by Dawn`);
      const lim = chosen.limits;
      const requiredFeatures = chosen.features.has('timestamp-query') ? ['timestamp-query'] : [];
      const device = await chosen.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: lim.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
          maxBufferSize: lim.maxBufferSize,
          maxComputeWorkgroupSizeX: lim.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
        },
      });
      const backend = new wg.WebGPUBackend(device, chosen.info);
      explainSyncReads(backend);
      failOnGpuErrors(backend, device as GpuDeviceLike);
      return backend;
    },
    1,
  );
  const ok = await tf.setBackend('webgpu');
  await tf.ready();
  if (!ok || tf.getBackend() !== 'webgpu')
    throw new Error(`tf.setBackend('webgpu') failed (active: ${tf.getBackend()})`);
  active = adapter;
}

interface GpuDeviceLike {
  onuncapturederror: ((ev: { error?: { message?: string } }) => void) | null;
}

/**
 * A WebGPU validation or out-of-memory error does not throw where it happens: the command is
 * dropped and the tensors it should have written keep stale values. Dawn only prints it. So every
 * such error is recorded here, and the next read of any tensor throws it, with the kernel's name,
 * instead of returning numbers computed from garbage.
 */
function failOnGpuErrors(backend: tf.KernelBackend, device: GpuDeviceLike): void {
  let first: string | null = null;
  let count = 0;
  device.onuncapturederror = (ev) => {
    count++;
    if (first === null) first = (ev.error?.message ?? String(ev.error)).trim();
  };
  const check = () => {
    if (first === null) return;
    const msg = `webgpu: the GPU rejected ${count === 1 ? 'a command' : `${count} commands`}, so results since then are wrong (first error: ${first.split('\n').slice(0, 3).join(' ')}); please report it with the output of ${commandLine('doctor')}, and use MARGIN_LAB_BACKEND=wasm meanwhile`;
    throw new Error(msg);
  };
  const b = backend as unknown as { read(id: object): Promise<unknown>; readSync(id: object): unknown };
  const read = b.read.bind(b);
  const readSync = b.readSync.bind(b);
  b.read = async (id: object) => {
    check();
    const out = await read(id);
    check();
    return out;
  };
  b.readSync = (id: object) => {
    check();
    return readSync(id);
  };
}

/** Replaces the OffscreenCanvas failure of a synchronous read with an error that says what to do. */
function explainSyncReads(backend: tf.KernelBackend): void {
  const b = backend as unknown as {
    readSync(id: object): unknown;
    tensorMap: { get(id: object): { values?: unknown } | undefined };
  };
  const original = b.readSync.bind(b);
  b.readSync = (id: object) => {
    const d = b.tensorMap.get(id);
    if (d && d.values == null && typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas === 'undefined') {
      throw new Error(
        'webgpu in Node cannot read a GPU tensor synchronously (dataSync/arraySync/array reads need OffscreenCanvas): read it with `await tensor.data()` first, or run this code on wasm (MARGIN_LAB_BACKEND=wasm)',
      );
    }
    return original(id);
  };
}

export { readSyncAvailable } from '../util/read';
