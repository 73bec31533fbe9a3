/**
 * Gradient kernels that @tensorflow/tfjs-backend-wasm 4.22 lacks, registered on the `wasm`
 * backend so that convolutional networks can train there.
 *
 * `Conv2DBackpropFilter` (the filter gradient of a stride-1 NHWC convolution) is rewritten as a
 * forward convolution, which wasm runs with XNNPACK:
 *
 *   dF[a,b,c,o] = Σ_{n,i,j} x[n, i+a−pt, j+b−pl, c] · dy[n,i,j,o]
 *
 * Swapping the roles of batch and channels turns this into an ordinary convolution:
 * input  X' = transpose(x, [3,1,2,0])  : [Cin, H, W, N]   (padded by the forward padding)
 * filter F' = transpose(dy, [1,2,0,3]) : [Ho, Wo, N, Cout]
 * conv(X', F', 'valid') has shape [Cin, kh, kw, Cout]; transposing by [1,2,0,3] gives dF.
 *
 * Only stride 1, dilation 1, NHWC and 'same' / 'valid' padding are supported; anything else
 * throws an error that names the unsupported attribute instead of computing a wrong gradient.
 */
import * as tf from '../tf';

type Info = tf.TensorInfo;
type KernelFn = (args: {
  inputs: Record<string, Info>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}) => Info | Info[];

function wasmKernel(name: string): KernelFn {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`margin-lab: the wasm backend has no '${name}' kernel, needed for conv gradients`);
  return k.kernelFunc as unknown as KernelFn;
}

function disposeInfo(backend: unknown, info: Info): void {
  (backend as { disposeData(id: unknown): void }).disposeData(info.dataId);
}

/** Throws unless the convolution is one the forward-convolution rewrite handles exactly. */
export function checkSupportedConv(
  kernel: string,
  attrs: { strides?: unknown; dilations?: unknown; pad?: unknown; dataFormat?: unknown; dimRoundingMode?: unknown },
): void {
  const pair = (v: unknown) => (typeof v === 'number' ? [v, v] : ((v as number[] | undefined) ?? [1, 1]));
  const [sh, sw] = pair(attrs.strides);
  const [dh, dw] = pair(attrs.dilations);
  if (sh !== 1 || sw !== 1) {
    throw new Error(
      `margin-lab ${kernel} on wasm: strides must be 1, got [${sh}, ${sw}]. Use pooling for downsampling, or the cpu/tensorflow backend.`,
    );
  }
  if (dh !== 1 || dw !== 1) {
    throw new Error(`margin-lab ${kernel} on wasm: dilations must be 1, got [${dh}, ${dw}].`);
  }
  if (attrs.pad !== 'same' && attrs.pad !== 'valid') {
    throw new Error(
      `margin-lab ${kernel} on wasm: padding must be 'same' or 'valid', got ${JSON.stringify(attrs.pad)}.`,
    );
  }
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC' && attrs.dataFormat !== 'channelsLast') {
    throw new Error(`margin-lab ${kernel} on wasm: dataFormat must be NHWC, got ${JSON.stringify(attrs.dataFormat)}.`);
  }
}

/** Top/bottom (or left/right) padding that tfjs uses for a stride-1 convolution. */
export function stride1Padding(pad: 'same' | 'valid', k: number): [number, number] {
  if (pad === 'valid') return [0, 0];
  const total = k - 1;
  const before = Math.floor(total / 2);
  return [before, total - before];
}

function conv2DBackpropFilter(args: {
  inputs: Record<string, Info>;
  backend: unknown;
  attrs?: Record<string, unknown>;
}): Info {
  const { inputs, backend } = args;
  const attrs = (args.attrs ?? {}) as {
    strides?: unknown;
    dilations?: unknown;
    pad?: unknown;
    dataFormat?: unknown;
    filterShape: number[];
  };
  checkSupportedConv('Conv2DBackpropFilter', attrs);
  const { x, dy } = inputs;
  const [kh, kw] = attrs.filterShape;
  const [pt, pb] = stride1Padding(attrs.pad as 'same' | 'valid', kh);
  const [pl, pr] = stride1Padding(attrs.pad as 'same' | 'valid', kw);

  const transpose = wasmKernel('Transpose');
  const padV2 = wasmKernel('PadV2');
  const conv2d = wasmKernel('Conv2D');
  const temps: Info[] = [];
  try {
    const xT = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } }) as Info;
    temps.push(xT);
    let xIn = xT;
    if (pt + pb + pl + pr > 0) {
      xIn = padV2({
        inputs: { x: xT },
        backend,
        attrs: {
          paddings: [
            [0, 0],
            [pt, pb],
            [pl, pr],
            [0, 0],
          ],
          constantValue: 0,
        },
      }) as Info;
      temps.push(xIn);
    }
    const dyT = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }) as Info;
    temps.push(dyT);
    const g = conv2d({
      inputs: { x: xIn, filter: dyT },
      backend,
      attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined },
    }) as Info;
    temps.push(g);
    return transpose({ inputs: { x: g }, backend, attrs: { perm: [1, 2, 0, 3] } }) as Info;
  } finally {
    for (const t of temps) disposeInfo(backend, t);
  }
}

let registered = false;

/** Registers the missing conv gradient kernels on the wasm backend (idempotent). */
export function registerWasmConvGradients(): void {
  if (registered || tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    registered = true;
    return;
  }
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
  });
  registered = true;
}
