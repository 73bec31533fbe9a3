/**
 * Accurate `Acos`, `Cos` and `Sin` kernels for tfjs's webgpu backend.
 *
 * The stock kernels call WGSL's built-ins, whose accuracy the WebGPU spec leaves loose (cos and
 * sin: absolute error up to 2^-11 on [−π, π]; acos is derived from atan2). Drivers differ; on
 * SwiftShader the margin losses' gradients came out 1–2e-4 off their float64 references, where
 * wasm is within 1e-5. The margin family evaluates cos(m1·acos(c) + m2) and scales it by s = 64,
 * so these few ulps matter.
 *
 * These kernels use only +, −, ×, sqrt and floor (exactly rounded or nearly so on every GPU):
 * range reduction to [−π/4, π/4] with π/4 split into three parts, then minimax polynomials, the
 * classic single-precision scheme of the Cephes library (about 1 ulp in float32). acos goes
 * through asin of a half-angle argument near ±1, so it keeps its relative accuracy there.
 *
 * And an `AddN` that splits its inputs: the stock kernel binds one storage buffer per input, and
 * past the device's `maxStorageBuffersPerShaderStage` (8 by default) its pipeline is invalid, so
 * summing the gradient norms of a net with more than 7 weight tensors failed on the GPU.
 */
import * as tf from '../tf';

const WGSL_HELPERS = `
fn ml_asin_core(x : f32) -> f32 {
  // asin(x) for |x| <= 0.5.
  let z = x * x;
  let p = ((((4.2163199048e-2 * z + 2.4181311049e-2) * z + 4.5470025998e-2) * z + 7.4953002686e-2) * z + 1.6666752422e-1);
  return x + x * z * p;
}

fn ml_acos(a : f32) -> f32 {
  if (abs(a) > 1.0) {
    return uniforms.NAN;
  }
  if (a > 0.5) {
    return 2.0 * ml_asin_core(sqrt(0.5 * (1.0 - a)));
  }
  if (a < -0.5) {
    // π split as float32 hi + lo, so the subtraction keeps the low bits.
    return (3.1415927410125732 - 2.0 * ml_asin_core(sqrt(0.5 * (1.0 + a)))) - 8.742277657347586e-8;
  }
  return (1.5707963705062866 - ml_asin_core(a)) - 4.371138828673793e-8;
}

fn ml_sincos_reduce(x : f32) -> vec2<f32> {
  // Returns (z, j): x = j·π/4 + z with |z| <= π/4, j in 0..7 (as f32).
  let ax = abs(x);
  var j = floor(ax * 1.27323954473516);
  if (j - 2.0 * floor(j * 0.5) == 1.0) {
    j = j + 1.0;
  }
  let z = ((ax - j * 0.78515625) - j * 2.4187564849853515625e-4) - j * 3.77489497744594108e-8;
  return vec2<f32>(z, j - 8.0 * floor(j * 0.125));
}

fn ml_cos_poly(z : f32) -> f32 {
  let zz = z * z;
  return ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz - 0.5 * zz + 1.0;
}

fn ml_sin_poly(z : f32) -> f32 {
  let zz = z * z;
  return ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
}

fn ml_cos(x : f32) -> f32 {
  let r = ml_sincos_reduce(x);
  var j = r.y;
  var sign = 1.0;
  if (j > 3.0) {
    j = j - 4.0;
    sign = -sign;
  }
  if (j > 1.0) {
    sign = -sign;
  }
  if (j == 1.0 || j == 2.0) {
    return sign * ml_sin_poly(r.x);
  }
  return sign * ml_cos_poly(r.x);
}

fn ml_sin(x : f32) -> f32 {
  let r = ml_sincos_reduce(x);
  var j = r.y;
  var sign = select(1.0, -1.0, x < 0.0);
  if (j > 3.0) {
    j = j - 4.0;
    sign = -sign;
  }
  if (j == 1.0 || j == 2.0) {
    return sign * ml_cos_poly(r.x);
  }
  return sign * ml_sin_poly(r.x);
}
`;

type WebgpuUtil = {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(
    layout: { x: number[] },
    shape: number[],
    workgroup: [number, number, number],
  ): [number, number, number];
};

/** A one-input elementwise program in the shape tfjs-backend-webgpu's runner expects. */
class AccurateUnaryProgram {
  readonly variableNames = ['A'];
  readonly size = true;
  readonly workgroupSize: [number, number, number] = [128, 1, 1];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly outputShape: number[],
    private readonly fn: string,
    util: WebgpuUtil,
  ) {
    this.dispatchLayout = util.flatDispatchLayout(outputShape);
    this.dispatch = util.computeDispatch(this.dispatchLayout, outputShape, this.workgroupSize);
    this.shaderKey = `margin_lab_accurate_${fn}`;
  }

  getUserCode(): string {
    return `
      ${WGSL_HELPERS}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let a = getAByOutputIndex(index);
          setOutputAtIndex(index, ${this.fn}(a));
        }
      }
    `;
  }
}

/** Kernels replaced, by tfjs kernel name → WGSL function above. */
const KERNELS: Record<string, string> = { Acos: 'ml_acos', Cos: 'ml_cos', Sin: 'ml_sin' };

/** The stock AddN, kept the first time it is replaced (registering twice must not wrap the wrapper). */
let stockAddN: tf.KernelFunc | null = null;

interface WebgpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(id: object): void;
}

/** AddN in groups of at most `maxStorageBuffersPerShaderStage − 1` inputs (one buffer is the output). */
function registerChunkedAddN(): void {
  if (!stockAddN) stockAddN = tf.getKernel('AddN', 'webgpu')?.kernelFunc ?? null;
  const stock = stockAddN;
  if (!stock) return;
  const kernelFunc = (args: Parameters<tf.KernelFunc>[0]) => {
    const b = args.backend as unknown as WebgpuBackendLike;
    const max = Math.max(2, b.device.limits.maxStorageBuffersPerShaderStage - 1);
    let ins = args.inputs as unknown as tf.TensorInfo[];
    const partial: tf.TensorInfo[] = [];
    while (ins.length > max) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < ins.length; i += max) {
        const part = ins.slice(i, i + max);
        if (part.length === 1) next.push(part[0]);
        else {
          const sum = stock({ ...args, inputs: part as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
          partial.push(sum);
          next.push(sum);
        }
      }
      ins = next;
    }
    const out = stock({ ...args, inputs: ins as unknown as tf.NamedTensorInfoMap });
    for (const t of partial) b.disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ kernelName: 'AddN', backendName: 'webgpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}

/** Registers the accurate kernels and the chunked AddN for 'webgpu' (replacing the stock ones). Idempotent. */
export function registerAccurateWebgpuKernels(util: WebgpuUtil): void {
  registerChunkedAddN();
  for (const [kernelName, fn] of Object.entries(KERNELS)) {
    const kernelFunc = ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
      const x = inputs.x as tf.TensorInfo;
      const b = backend as { runWebGPUProgram(p: unknown, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo };
      return b.runWebGPUProgram(new AccurateUnaryProgram(x.shape, fn, util), [x], 'float32');
    };
    if (tf.getKernel(kernelName, 'webgpu')) tf.unregisterKernel(kernelName, 'webgpu');
    tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}
