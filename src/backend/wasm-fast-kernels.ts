/**
 * Faster training kernels for tfjs-backend-wasm 4.22, registered over its own ones.
 *
 * A profile of one training step of the reference net (conv → pool → conv → pool → dense) showed
 * three gradient kernels of the stock backend running as scalar C++ loops, far slower than the
 * XNNPACK forward kernels of the same size:
 *
 *   - `Conv2DBackpropInput` (the input gradient of a convolution),
 *   - `BatchMatMul` with `transposeA` / `transposeB` (the two gradient products of a dense layer),
 *   - `MaxPoolGrad`.
 *
 * Each replacement keeps the stock kernel for every configuration it does not handle itself, so
 * no configuration that worked before stops working:
 *
 *   - `Conv2DBackpropInput`, stride 1, 'same' / 'valid' padding, NHWC: the input gradient of a
 *     stride-1 convolution is the full correlation of dy with the filter rotated by 180° and its
 *     in/out channels swapped,
 *
 *       dx[n,i,j,c] = Σ_{a,b,o} dy[n, i − (kh−1−pt) + a, j − (kw−1−pl) + b, o] · W[kh−1−a, kw−1−b, c, o],
 *
 *     i.e. an XNNPACK forward `Conv2D` of dy with F'[a,b,o,c] = W[kh−1−a, kw−1−b, c, o] and explicit
 *     padding (kh−1−pt, kh−1−pb) × (kw−1−pl, kw−1−pr), where pt, pb, pl, pr are the forward pads.
 *   - `BatchMatMul` with a transpose flag: the flagged operand is transposed into a contiguous
 *     tensor first, then the untransposed product runs (XNNPACK's fast path).
 *   - `MaxPoolGrad`, dilation 1: one pass over the pooling windows that adds each output gradient
 *     to the first maximum of its window (the same tie rule as the cpu backend).
 *   - `Sum` of a float32 tensor over its leading axes (a bias gradient: dy [N, H, W, C] summed to
 *     [C]): the stock kernel transposes the whole tensor first; this adds rows in one pass, in
 *     float64.
 *
 * Every kernel is tested against the `cpu` backend on random inputs of several shapes.
 */
import * as tf from '../tf';
import { stride1Padding } from './wasm-conv-grad';

type Info = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, Info>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}
type KernelFn = (args: KernelArgs) => Info | Info[];

interface WasmLike {
  readSync(dataId: unknown): ArrayLike<number>;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: ArrayLike<number>): Info;
  disposeData(dataId: unknown): void;
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } };
  wasm: { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
}

/**
 * A float32 view of a tensor's bytes in the wasm heap (no copy). Take views only after the last
 * allocation of a kernel: an allocation may grow the heap, which detaches (single-threaded build)
 * or outgrows (threaded build, whose `HEAPU8` is refreshed lazily) earlier views. The threaded
 * build's `wasmMemory.buffer` is always current.
 */
function heapF32(backend: WasmLike, t: Info): Float32Array {
  const buffer = backend.wasm.wasmMemory?.buffer ?? backend.wasm.HEAPU8.buffer;
  const n = t.shape.reduce((a, b) => a * b, 1);
  return new Float32Array(buffer, backend.dataIdMap.get(t.dataId).memoryOffset, n);
}

/** The wasm backend's own kernel function, before ours replaced it (throws when it has none). */
function kernelOf(name: string, saved: Map<string, KernelFn>): KernelFn {
  const fn = saved.get(name) ?? (tf.getKernel(name, 'wasm')?.kernelFunc as unknown as KernelFn | undefined);
  if (!fn) throw new Error(`margin-lab: the wasm backend has no '${name}' kernel`);
  return fn;
}

const stock = new Map<string, KernelFn>();

function pair(v: unknown, fallback: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [Number(v[0]), Number(v[1])];
  return [fallback, fallback];
}

function isChannelsLast(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

/** True when the fast Conv2DBackpropInput path computes this configuration exactly. */
export function fastConvInputApplies(attrs: Record<string, unknown>): boolean {
  const [sh, sw] = pair(attrs.strides, 1);
  const [dh, dw] = pair(attrs.dilations, 1);
  return (
    sh === 1 &&
    sw === 1 &&
    dh === 1 &&
    dw === 1 &&
    (attrs.pad === 'same' || attrs.pad === 'valid') &&
    isChannelsLast(attrs.dataFormat)
  );
}

function conv2DBackpropInput(args: KernelArgs): Info {
  const attrs = args.attrs ?? {};
  if (!fastConvInputApplies(attrs)) return kernelOf('Conv2DBackpropInput', stock)(args) as Info;
  const { dy, filter } = args.inputs;
  const backend = args.backend as WasmLike;
  const [kh, kw] = filter.shape as number[];
  const pad = attrs.pad as 'same' | 'valid';
  const [pt, pb] = stride1Padding(pad, kh);
  const [pl, pr] = stride1Padding(pad, kw);
  const temps: Info[] = [];
  try {
    const flipped = kernelOf('Reverse', stock)({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }) as Info;
    temps.push(flipped);
    const swapped = kernelOf(
      'Transpose',
      stock,
    )({ inputs: { x: flipped }, backend, attrs: { perm: [0, 1, 3, 2] } }) as Info;
    temps.push(swapped);
    return kernelOf(
      'Conv2D',
      stock,
    )({
      inputs: { x: dy, filter: swapped },
      backend,
      attrs: {
        strides: [1, 1],
        pad: [
          [0, 0],
          [kh - 1 - pt, kh - 1 - pb],
          [kw - 1 - pl, kw - 1 - pr],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      },
    }) as Info;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function batchMatMul(args: KernelArgs): Info {
  const attrs = args.attrs ?? {};
  const run = kernelOf('BatchMatMul', stock);
  if (!attrs.transposeA && !attrs.transposeB) return run(args) as Info;
  const backend = args.backend as WasmLike;
  const transpose = kernelOf('Transpose', stock);
  const temps: Info[] = [];
  try {
    let { a, b } = args.inputs;
    if (attrs.transposeA) {
      a = transpose({ inputs: { x: a }, backend, attrs: { perm: swapLastTwo(a.shape.length) } }) as Info;
      temps.push(a);
    }
    if (attrs.transposeB) {
      b = transpose({ inputs: { x: b }, backend, attrs: { perm: swapLastTwo(b.shape.length) } }) as Info;
      temps.push(b);
    }
    return run({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } }) as Info;
  } finally {
    for (const t of temps) backend.disposeData(t.dataId);
  }
}

/** True when the one-pass MaxPoolGrad handles this configuration (2-D pooling, dilation 1). */
export function fastMaxPoolGradApplies(input: Info, attrs: Record<string, unknown>): boolean {
  const [dh, dw] = pair(attrs.dilations, 1);
  return input.shape.length === 4 && input.dtype === 'float32' && dh === 1 && dw === 1;
}

function maxPoolGrad(args: KernelArgs): Info {
  const attrs = args.attrs ?? {};
  const { dy, input } = args.inputs;
  if (!fastMaxPoolGradApplies(input, attrs)) return kernelOf('MaxPoolGrad', stock)(args) as Info;
  const backend = args.backend as WasmLike;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize as [number, number] | number,
    attrs.strides as [number, number] | number,
    1,
    attrs.pad as 'same' | 'valid' | number,
    attrs.dimRoundingMode as 'floor' | 'round' | 'ceil' | undefined,
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: C,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const out = backend.makeOutput(input.shape, 'float32');
  const x = heapF32(backend, input);
  const g = heapF32(backend, dy);
  const dx = heapF32(backend, out);
  dx.fill(0);
  const rowX = inWidth * C;
  const imgX = inHeight * rowX;
  if (
    filterHeight === 2 &&
    filterWidth === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    padTop === 0 &&
    padLeft === 0 &&
    2 * outHeight <= inHeight &&
    2 * outWidth <= inWidth
  ) {
    // The common 2×2 / stride 2 pooling: four candidates, checked in the cpu backend's order.
    let o = 0;
    for (let n = 0; n < batchSize; n++) {
      for (let r = 0; r < outHeight; r++) {
        for (let q = 0; q < outWidth; q++) {
          const p00 = n * imgX + 2 * r * rowX + 2 * q * C;
          for (let d = 0; d < C; d++, o++) {
            const a = p00 + d;
            let best = x[a];
            let at = a;
            if (!(best > -Infinity)) {
              best = -Infinity;
              at = -1;
            }
            let v = x[a + C];
            if (v > best) {
              best = v;
              at = a + C;
            }
            v = x[a + rowX];
            if (v > best) {
              best = v;
              at = a + rowX;
            }
            v = x[a + rowX + C];
            if (v > best) at = a + rowX + C;
            if (at >= 0) dx[at] += g[o];
          }
        }
      }
    }
    return out;
  }
  let o = 0;
  for (let n = 0; n < batchSize; n++) {
    const base = n * imgX;
    for (let r = 0; r < outHeight; r++) {
      const r0 = r * strideHeight - padTop;
      const rLo = Math.max(0, r0);
      const rHi = Math.min(inHeight, r0 + filterHeight);
      for (let q = 0; q < outWidth; q++) {
        const c0 = q * strideWidth - padLeft;
        const cLo = Math.max(0, c0);
        const cHi = Math.min(inWidth, c0 + filterWidth);
        for (let d = 0; d < C; d++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let i = rLo; i < rHi; i++) {
            let p = base + i * rowX + cLo * C + d;
            for (let j = cLo; j < cHi; j++, p += C) {
              if (x[p] > best) {
                best = x[p];
                at = p;
              }
            }
          }
          if (at >= 0) dx[at] += g[o];
        }
      }
    }
  }
  return out;
}

/** The number of leading axes `axis` names when it names exactly axes 0..k−1 (k < rank), else 0. */
export function leadingAxes(axis: unknown, shape: number[]): number {
  const rank = shape.length;
  const list = (Array.isArray(axis) ? axis : axis === undefined || axis === null ? [] : [axis]).map(Number);
  const norm = [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (norm.length === 0 || norm.length >= rank) return 0;
  return norm.every((a, i) => a === i) ? norm.length : 0;
}

function sum(args: KernelArgs): Info {
  const attrs = args.attrs ?? {};
  const { x } = args.inputs;
  const k = x.dtype === 'float32' ? leadingAxes(attrs.axis, x.shape) : 0;
  if (k === 0) return kernelOf('Sum', stock)(args) as Info;
  const backend = args.backend as WasmLike;
  const inner = x.shape.slice(k).reduce((a, b) => a * b, 1);
  const outShape = attrs.keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const xs = heapF32(backend, x);
  const acc = new Float64Array(inner);
  for (let p = 0; p < xs.length; p += inner) {
    for (let j = 0; j < inner; j++) acc[j] += xs[p + j];
  }
  heapF32(backend, out).set(acc);
  return out;
}

const REPLACEMENTS: Array<[string, KernelFn]> = [
  ['Sum', sum],
  ['Conv2DBackpropInput', conv2DBackpropInput],
  ['BatchMatMul', batchMatMul],
  ['MaxPoolGrad', maxPoolGrad],
];

let registered = false;

/**
 * Replaces the three slow wasm kernels by the faster ones above (idempotent). Call before
 * `tf.setBackend('wasm')` or after: tfjs looks kernels up at each call.
 */
export function registerWasmFastKernels(): void {
  if (registered) return;
  for (const name of ['Reverse', 'Transpose', 'Conv2D']) kernelOf(name, stock);
  for (const [name, fn] of REPLACEMENTS) {
    const own = tf.getKernel(name, 'wasm');
    if (!own) throw new Error(`margin-lab: the wasm backend has no '${name}' kernel to replace`);
    stock.set(name, own.kernelFunc as unknown as KernelFn);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: fn as unknown as tf.KernelFunc,
      setupFunc: own.setupFunc,
      disposeFunc: own.disposeFunc,
    });
  }
  registerBatchNormGradient();
  registered = true;
}

/**
 * BatchNorm's input gradient without a Tile on wasm. tfjs-core's FusedBatchNorm gradient writes
 * dx = dy · tile(1/√(var + ε), [N, H, W, 1]) · γ, and wasm's Tile copies element by element in
 * JavaScript: 590 of the 1,300 ms of the benchmark's recipe step (4 BN layers). Multiplying by the
 * [C] vector directly broadcasts it along the last axis: the same products, so the same values.
 * The other four gradients (mean, variance, γ, β) are tfjs-core's own. Only on wasm (checked at
 * each call); other backends keep tfjs-core's gradient.
 */
function registerBatchNormGradient(): void {
  const stockGrad = tf.getGradient('FusedBatchNorm');
  tf.registerGradient({
    kernelName: 'FusedBatchNorm',
    inputsToSave: stockGrad.inputsToSave,
    gradFunc: (dy, saved, attrs) => {
      const grads = stockGrad.gradFunc(dy, saved, attrs);
      const [x, mean, variance, scale] = saved;
      if (tf.getBackend() !== 'wasm' || mean.rank !== 1 || x.dtype !== 'float32') return grads;
      const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
      return {
        ...grads,
        x: () => {
          const inv = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
          return tf.mul(tf.mul(dy as tf.Tensor, inv), scale ?? tf.scalar(1));
        },
      };
    },
  });
}

/** The wasm backend's own kernel of that name, as it was before `registerWasmFastKernels` (tests compare). */
export function stockWasmKernel(name: string): tf.KernelFunc | undefined {
  return stock.get(name) as unknown as tf.KernelFunc | undefined;
}

/** Whether the wasm kernel `name` registered now is margin-lab's replacement (tests; the version gate). */
export function wasmFastKernelActive(name: string): boolean {
  const own = REPLACEMENTS.find(([n]) => n === name)?.[1];
  return own !== undefined && (tf.getKernel(name, 'wasm')?.kernelFunc as unknown) === own;
}
