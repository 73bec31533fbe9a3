/**
 * The version gate for margin-lab's changes inside TF.js.
 *
 * Some of the backend code reaches past TF.js's public API, and a TF.js upgrade can break it
 * without a type error: the wasm bundle's markers and rollup names, `WASM_HAS_MULTITHREAD_SUPPORT`,
 * Emscripten's `PThread`, the `os.cpus` trick (wasm-threads.ts); the stock kernels and the wasm
 * heap (wasm-fast-kernels.ts); tfjs-node's op attributes (tensorflow-kernels.ts); the webgpu
 * backend's `runWebGPUProgram` and shader utilities (webgpu-kernels.ts). So these changes are
 * applied only on the TF.js version they were written and tested for (PATCHED_FOR). On another
 * version they are skipped (stock kernels, single-threaded wasm) and the backend line says so in
 * its "not used" list, naming the files to review.
 *
 * `MARGIN_LAB_STOCK_KERNELS=1` turns every replacement kernel off on any version (to compare
 * against stock TF.js, or to rule margin-lab's kernels out of a bug). It does not touch the
 * kernels margin-lab adds where TF.js has none (wasm's `Conv2DBackpropFilter` and
 * `UnsortedSegmentSum`, without which nothing with a convolution or a gather trains on wasm), nor
 * the wasm thread start. The decision is taken when a backend first starts in a process.
 */
import * as tf from '../tf';

/** The TF.js release the patches were written for (every @tensorflow package moves in lockstep). */
export const PATCHED_FOR = '4.22.0';

export type PatchGroup = 'wasm' | 'tensorflow' | 'webgpu';

/** The package of each group whose version (besides tfjs-core's) the patches depend on. */
export const PATCH_PACKAGES: Record<PatchGroup, string[]> = {
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  tensorflow: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  webgpu: ['@tensorflow/tfjs-backend-webgpu'],
};

/** What to review, per group, before raising PATCHED_FOR to a new TF.js release. */
export const PATCH_FILES: Record<PatchGroup, string[]> = {
  wasm: ['src/backend/wasm-threads.ts', 'src/backend/wasm-fast-kernels.ts', 'src/backend/index.ts (tryWasm)'],
  tensorflow: ['src/backend/tensorflow-kernels.ts'],
  webgpu: ['src/backend/webgpu-kernels.ts', 'src/backend/webgpu.ts (startWebgpu)'],
};

/** The installed version of a package, or null when it is not installed. */
export function packageVersion(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

/** tfjs-core's version (as TF.js reports it) and each patched package's. */
export function installedVersions(): Record<string, string | null> {
  const out: Record<string, string | null> = { '@tensorflow/tfjs-core': tf.version_core };
  for (const pkgs of Object.values(PATCH_PACKAGES)) for (const p of pkgs) out[p] = packageVersion(p);
  return out;
}

export interface PatchDecision {
  /** Apply the group's replacement kernels. */
  kernels: boolean;
  /** wasm: the threaded build may start (its start-up reaches into the bundle). */
  threads: boolean;
  /** Why something is off, for the backend line's "not used" list. */
  note?: string;
}

/** MARGIN_LAB_STOCK_KERNELS: 1 (stock kernels) or 0 / unset; anything else is an error. */
export function stockKernelsRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env.MARGIN_LAB_STOCK_KERNELS;
  if (raw === undefined || raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  throw new Error(
    `MARGIN_LAB_STOCK_KERNELS=${JSON.stringify(raw)}: expected 1 (TF.js's own kernels only) or 0 (margin-lab's, the default)`,
  );
}

/** Whether margin-lab's changes to `group` apply here (see the module comment). */
export function patchDecision(
  group: PatchGroup,
  env: NodeJS.ProcessEnv = process.env,
  versions: Record<string, string | null> = installedVersions(),
): PatchDecision {
  const other = ['@tensorflow/tfjs-core', ...PATCH_PACKAGES[group]]
    .map((p) => [p, versions[p]] as const)
    .filter(([, v]) => v !== null && v !== undefined && v !== PATCHED_FOR);
  if (other.length)
    return {
      kernels: false,
      threads: false,
      note: `margin-lab's ${group} patches (written for TF.js ${PATCHED_FOR}, this is ${other.map(([p, v]) => `${p} ${v}`).join(', ')}: TF.js's own kernels${group === 'wasm' ? ', single-threaded' : ''}; review ${PATCH_FILES[group].join(', ')})`,
    };
  if (stockKernelsRequested(env))
    return { kernels: false, threads: true, note: `margin-lab's ${group} kernels (MARGIN_LAB_STOCK_KERNELS=1)` };
  return { kernels: true, threads: true };
}
