/**
 * Kernel changes for the `tensorflow` backend (tfjs-node on libtensorflow): where tfjs builds a
 * training op's forward or backward pass from a chain of element-wise ops, or recomputes what
 * libtensorflow can keep, use libtensorflow's own fused op instead. A profile of the benchmark's
 * face-recipe step (`npm run bench -- --profile`: BN reference net with the neck, ArcFace over
 * 1,880 classes, batch 128) guided each one.
 *
 *  - **ReLU's gradient** as `ReluGrad`. tfjs-core writes it as `dy · step(x)`, and tfjs-node 4.22
 *    builds `Step` from six full-size ops (IsNan, Greater, a tensor of ones, Fill, Where, Select).
 *    The only difference: where a feature is NaN, tfjs's gradient is NaN and ReluGrad's is 0. A
 *    NaN feature makes the loss NaN, which the trainer refuses (TrainingDivergedError), so no
 *    update ever depends on it.
 *  - **BatchNorm in training mode** as `FusedBatchNormV3` forward and `FusedBatchNormGradV3`
 *    backward. tfjs-layers normalizes with `moments` and `batchNorm`, whose gradients are some
 *    fifteen full-size element-wise ops per layer (Multiply, Sum, Sub, RealDiv, Square, Tile):
 *    85 of the recipe step's 190 ms. The layer's training call is replaced (see
 *    {@link batchNormTrainingCall}); the moving statistics are updated exactly as tfjs-layers does
 *    (`moving ← moving − (moving − batch)·(1 − momentum)`, with the biased batch variance).
 *    Inference (`predict`, `training: false`) keeps tfjs-layers' own path.
 *  - **Conv2D without bias or activation** (before a BatchNorm) as the plain convolution op, so
 *    that its backward pass computes only the gradients asked for (see {@link patchConv2DLayer}).
 *  - **MaxPool's gradient** through the argmax: libtensorflow's `MaxPoolGrad` searches every
 *    window for its maximum again (12 ms for the recipe's first pool). `MaxPoolWithArgmax` finds
 *    the positions once (int32, its fast kernel) and `MaxPoolGradWithArgmax` scatters `dy` to them
 *    (int64 positions, the only ones its CPU kernel takes). Each window's gradient goes to its
 *    first maximum, as MaxPoolGrad's does.
 *
 * Each replacement checks the active backend on every call, so other backends keep tfjs's kernels,
 * and {@link withStockTensorflowKernels} runs a function on the stock ones (the equality tests in
 * test/native.test.ts compare the two, values and gradients). The version gate (patches.ts) and
 * `MARGIN_LAB_STOCK_KERNELS=1` decide whether any of this is registered.
 */
import * as tf from '../tf';

const RELU_GRAD = 'MarginLabReluGrad';
const BN_TRAIN = 'MarginLabFusedBatchNorm';
const BN_GRAD = 'MarginLabFusedBatchNormGrad';
const POOL_ARGMAX = 'MarginLabMaxPoolWithArgmax';
const POOL_SCATTER = 'MarginLabMaxPoolGradWithArgmax';
let registered = false;
/** Set while {@link withStockTensorflowKernels} runs. */
let stockOnly = false;

/** What tfjs-node's binding returns for each output of an op. */
interface OutputMeta {
  id: number;
  shape: number[];
  dtype: number;
}

interface Binding {
  executeOp(name: string, attrs: unknown[], inputs: number[], outputs: number): OutputMeta[];
  deleteTensor(id: number): void;
  TF_ATTR_INT: number;
  TF_ATTR_STRING: number;
  TF_ATTR_FLOAT: number;
  TF_ATTR_BOOL: number;
}

interface NodeBackend {
  binding: Binding;
  executeSingleOutput(name: string, attrs: unknown[], inputs: tf.TensorInfo[]): tf.TensorInfo;
  executeMultipleOutputs(name: string, attrs: unknown[], inputs: tf.TensorInfo[], n: number): tf.TensorInfo[];
  getInputTensorIds(inputs: tf.TensorInfo[]): number[];
  createOutputTensor(meta: OutputMeta): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

type TypeAttr = (name: string, dtype: tf.DataType | 'int64') => unknown;

/** Whether margin-lab's kernels apply to this call: the tensorflow backend, float32, not stockOnly. */
function active(...ts: tf.Tensor[]): boolean {
  return !stockOnly && tf.getBackend() === 'tensorflow' && ts.every((t) => t.dtype === 'float32');
}

/**
 * Runs `fn` with tfjs's own kernels on the tensorflow backend (margin-lab's replacements step
 * aside), for tests that compare the two paths. Not re-entrant across awaits of other work.
 */
export async function withStockTensorflowKernels<T>(fn: () => T | Promise<T>): Promise<T> {
  const was = stockOnly;
  stockOnly = true;
  try {
    return await fn();
  } finally {
    stockOnly = was;
  }
}

/** Registers every replacement (idempotent). Call once tfjs-node has loaded. */
export function registerTensorflowKernels(): void {
  if (registered) return;
  // Loaded only here: this module is imported whatever the backend, tfjs-node only when it is used.
  const nodeKernels = require('@tensorflow/tfjs-node/dist/nodejs_kernel_backend') as {
    createTensorsTypeOpAttr: (name: string, dtype: string) => unknown;
  };
  const binding = (tf.findBackend('tensorflow') as unknown as { binding: Record<string, number> }).binding;
  const typeAttr: TypeAttr = (name, dtype) =>
    // int64 is a TF dtype that tfjs does not have.
    dtype === 'int64'
      ? { name, type: binding.TF_ATTR_TYPE, value: binding.TF_INT64 }
      : nodeKernels.createTensorsTypeOpAttr(name, dtype);
  registerReluGrad(typeAttr);
  registerBatchNorm(typeAttr);
  registerMaxPool(typeAttr);
  patchConv2DLayer();
  registered = true;
}

function registerReluGrad(typeAttr: TypeAttr): void {
  tf.registerKernel({
    kernelName: RELU_GRAD,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
      return (backend as unknown as NodeBackend).executeSingleOutput('ReluGrad', [typeAttr('T', 'float32')], [dy, x]);
    },
  });
  const stock = tf.getGradient('Relu');
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      if (!active(x, dy as tf.Tensor)) return stock.gradFunc(dy, saved, attrs);
      return { x: () => tf.engine().runKernel(RELU_GRAD, { dy: dy as tf.Tensor, x }) as tf.Tensor };
    },
  });
}

/** The ReLU gradient tfjs-core itself registers, for tests that compare. */
export function stockReluGradient(dy: tf.Tensor, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(dy, tf.cast(tf.step(x), 'float32')));
}

// ---------------------------------------------------------------------------------------------
// BatchNorm

/**
 * Whether this libtensorflow's `FusedBatchNormV3` returns the unbiased (n − 1) batch variance in
 * training mode. TensorFlow's own CPU kernel does (it is what Keras feeds its moving variance);
 * the oneDNN kernel that replaces it when oneDNN is on returns the biased one. So it is asked
 * once, on two values, 0 and 2 (biased variance 1, unbiased 2).
 */
let unbiasedVariance: boolean | null = null;

/** The attributes of FusedBatchNormV3 (forward: with its averaging factor) and of its gradient. */
function bnAttrs(backend: NodeBackend, typeAttr: TypeAttr, epsilon: number, forward: boolean): unknown[] {
  const b = backend.binding;
  return [
    typeAttr('T', 'float32'),
    typeAttr('U', 'float32'),
    { name: 'epsilon', type: b.TF_ATTR_FLOAT, value: epsilon },
    ...(forward ? [{ name: 'exponential_avg_factor', type: b.TF_ATTR_FLOAT, value: 1 }] : []),
    { name: 'data_format', type: b.TF_ATTR_STRING, value: 'NHWC' },
    { name: 'is_training', type: b.TF_ATTR_BOOL, value: true },
  ];
}

function registerBatchNorm(typeAttr: TypeAttr): void {
  // Outputs: y, batch mean, batch variance, and the three reserve spaces the gradient takes.
  tf.registerKernel({
    kernelName: BN_TRAIN,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, scale, offset } = inputs as Record<string, tf.TensorInfo>;
      const nb = backend as unknown as NodeBackend;
      // In training mode the population mean and variance inputs are not read: scale and offset
      // stand in for them (of the right length, whichever way a kernel checks).
      return nb.executeMultipleOutputs(
        'FusedBatchNormV3',
        bnAttrs(nb, typeAttr, (attrs as { epsilon: number }).epsilon, true),
        [x, scale, offset, scale, offset],
        6,
      );
    },
  });
  tf.registerKernel({
    kernelName: BN_GRAD,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, x, scale, r1, r2, r3 } = inputs as Record<string, tf.TensorInfo>;
      const nb = backend as unknown as NodeBackend;
      const out = nb.executeMultipleOutputs(
        'FusedBatchNormGradV3',
        bnAttrs(nb, typeAttr, (attrs as { epsilon: number }).epsilon, false),
        [dy, x, scale, r1, r2, r3],
        5,
      );
      // dx, dscale, doffset; the last two are placeholders.
      for (const t of out.slice(3)) nb.disposeData(t.dataId, true);
      return out.slice(0, 3);
    },
  });
  tf.registerGradient({
    kernelName: BN_TRAIN,
    inputsToSave: ['x', 'scale'],
    outputsToSave: [false, false, false, true, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, scale, r1, r2, r3] = saved;
      // Only the normalized output is differentiated: the batch statistics feed the moving
      // averages, never the loss (tfjs passes zeros for their dy).
      const dy = (dys as unknown as tf.Tensor[])[0];
      // One op gives all three: run it here, in the backward pass's own scope (which disposes
      // what no input takes, e.g. a frozen γ's), not inside the first input's tidy.
      const [dx, dscale, doffset] = tf.engine().runKernel(BN_GRAD, { dy, x, scale, r1, r2, r3 }, attrs) as tf.Tensor[];
      return { x: () => dx, scale: () => dscale, offset: () => doffset };
    },
  });
  patchBatchNormLayer();
}

function isUnbiased(): boolean {
  if (unbiasedVariance === null) {
    const probe = tf.tidy(() => {
      const outs = tf
        .engine()
        .runKernel(
          BN_TRAIN,
          { x: tf.tensor4d([0, 2], [2, 1, 1, 1]), scale: tf.ones([1]), offset: tf.zeros([1]) },
          { epsilon: 1e-3 },
        ) as tf.Tensor[];
      return outs[2].clone();
    });
    const v = probe.dataSync()[0];
    probe.dispose();
    if (Math.abs(v - 2) < 1e-4) unbiasedVariance = true;
    else if (Math.abs(v - 1) < 1e-4) unbiasedVariance = false;
    else
      throw new Error(
        `margin-lab fused BatchNorm: FusedBatchNormV3 gave a batch variance of ${v} for the values 0 and 2 (expected 1 or 2); set MARGIN_LAB_STOCK_KERNELS=1 and report it`,
      );
  }
  return unbiasedVariance;
}

/** The parts of tfjs-layers' BatchNormalization that its training call reads. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: { read(): tf.Tensor };
  beta: { read(): tf.Tensor };
  movingMean: { read(): tf.Tensor; write(v: tf.Tensor): void };
  movingVariance: { read(): tf.Tensor; write(v: tf.Tensor): void };
}

/**
 * BatchNormalization's training call on the fused kernel, or null where it does not apply (then
 * tfjs-layers' own call runs): the layer normalizes the last axis of a 2-D or 4-D float32 input
 * and has both γ and β. Returns the normalized batch; updates the moving statistics as
 * tfjs-layers does.
 */
export function batchNormTrainingCall(layer: BatchNormLayer, input: tf.Tensor): tf.Tensor | null {
  const ndim = input.rank;
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + ndim;
  if (!active(input) || axis !== ndim - 1 || (ndim !== 2 && ndim !== 4) || !layer.center || !layer.scale) return null;
  const unbiased = isUnbiased();
  return tf.tidy(() => {
    const c = input.shape[ndim - 1];
    const x4 = ndim === 4 ? input : tf.reshape(input, [input.shape[0], 1, 1, c]);
    const [y, mean, variance] = tf
      .engine()
      .runKernel(
        BN_TRAIN,
        { x: x4, scale: layer.gamma.read(), offset: layer.beta.read() },
        { epsilon: layer.epsilon },
      ) as tf.Tensor[];
    const count = input.size / c;
    const biased = unbiased ? tf.mul(variance, (count - 1) / count) : variance;
    const update = (v: { read(): tf.Tensor; write(t: tf.Tensor): void }, batch: tf.Tensor) =>
      tf.tidy(() => {
        const orig = v.read();
        v.write(tf.sub(orig, tf.mul(tf.sub(orig, batch), 1 - layer.momentum)));
      });
    update(layer.movingMean, mean);
    update(layer.movingVariance, biased);
    return ndim === 4 ? y : tf.reshape(y, input.shape);
  });
}

/** Puts the fused training call in front of tfjs-layers' BatchNormalization.call. */
function patchBatchNormLayer(): void {
  const proto = layerClass('BatchNormalization').prototype as {
    call: (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
  };
  const stock = proto.call;
  proto.call = function (inputs, kwargs) {
    if (kwargs?.training === true) {
      const list = Array.isArray(inputs) ? inputs : [inputs];
      if (list.length === 1) {
        const out = batchNormTrainingCall(this, list[0]);
        if (out) return out;
      }
    }
    return stock.call(this, inputs, kwargs);
  };
}

// ---------------------------------------------------------------------------------------------
// Conv2D without bias or activation

/** The parts of tfjs-layers' Conv2D that its call reads. */
interface Conv2DLayer {
  bias: unknown;
  activation: { getClassName(): string };
  dataFormat: string;
  rank: number;
  strides: number[];
  padding: string;
  dilationRate: number | number[];
  kernel: { read(): tf.Tensor };
}

/**
 * A Conv2D layer with no bias and no activation (the convolutions before a BatchNorm) as the
 * plain convolution op, where tfjs-layers calls its fused one. Both run libtensorflow's Conv2D
 * and give the same values; but the fused op's gradient computes the input's gradient even where
 * nothing needs it (the image, at the first layer: 5 ms of the recipe step), while the plain op's
 * registered gradient computes only what the backward pass asks for.
 */
function patchConv2DLayer(): void {
  const entry = layerClass('Conv2D');
  const proto = entry.prototype as {
    call: (this: Conv2DLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
  };
  const stock = proto.call;
  proto.call = function (inputs, kwargs) {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const x = list[0];
    const dil = Array.isArray(this.dilationRate) ? this.dilationRate : [this.dilationRate];
    if (
      list.length === 1 &&
      active(x) &&
      x.rank === 4 &&
      this.rank === 2 &&
      this.bias == null &&
      this.activation.getClassName() === 'linear' &&
      this.dataFormat === 'channelsLast' &&
      (this.padding === 'same' || this.padding === 'valid') &&
      dil.every((d) => d === 1)
    )
      return tf.tidy(() =>
        tf.conv2d(
          x as tf.Tensor4D,
          this.kernel.read() as tf.Tensor4D,
          this.strides as [number, number],
          this.padding as 'same' | 'valid',
        ),
      );
    return stock.call(this, inputs, kwargs);
  };
}

/** A tfjs-layers class by its serialized name. */
function layerClass(name: string): { prototype: unknown } {
  const entry = (
    tf.serialization.SerializationMap.getMap().classNameMap as Record<string, [{ prototype: unknown }, unknown]>
  )[name];
  if (!entry) throw new Error(`margin-lab: tfjs-layers registered no ${name} class`);
  return entry[0];
}

// ---------------------------------------------------------------------------------------------
// MaxPool

/** The pooling attributes tfjs's MaxPool kernel takes. */
interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same';
}

function registerMaxPool(typeAttr: TypeAttr): void {
  const poolAttrs = (b: Binding, input: tf.TensorInfo, a: PoolAttrs, targmax: 'int32' | 'int64') => {
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
    );
    return [
      typeAttr('T', 'float32'),
      typeAttr('Targmax', targmax),
      { name: 'ksize', type: b.TF_ATTR_INT, value: [1, info.filterHeight, info.filterWidth, 1] },
      { name: 'strides', type: b.TF_ATTR_INT, value: [1, info.strideHeight, info.strideWidth, 1] },
      { name: 'padding', type: b.TF_ATTR_STRING, value: info.padInfo.type },
      { name: 'include_batch_in_index', type: b.TF_ATTR_BOOL, value: false },
    ];
  };
  // Forward with the positions: [pooled, argmax (int32, the index within each image)].
  tf.registerKernel({
    kernelName: POOL_ARGMAX,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const nb = backend as unknown as NodeBackend;
      const attr = poolAttrs(nb.binding, x, attrs as unknown as PoolAttrs, 'int32');
      const out = nb.binding.executeOp('MaxPoolWithArgmax', attr, nb.getInputTensorIds([x]), 2);
      return out.map((o) => nb.createOutputTensor(o));
    },
  });
  // dy scattered to the positions of argmax (int32; cast to the int64 the CPU kernel takes).
  tf.registerKernel({
    kernelName: POOL_SCATTER,
    backendName: 'tensorflow',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, input, argmax } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; argmax: tf.TensorInfo };
      const nb = backend as unknown as NodeBackend;
      const b = nb.binding;
      const [xId, dyId, argId] = nb.getInputTensorIds([input, dy, argmax]);
      // The int64 positions never reach tfjs (it has no int64): a handle only, deleted here.
      const [arg64] = b.executeOp(
        'Cast',
        [
          typeAttr('SrcT', 'int32'),
          typeAttr('DstT', 'int64'),
          { name: 'Truncate', type: b.TF_ATTR_BOOL, value: false },
        ],
        [argId],
        1,
      );
      try {
        const attr = poolAttrs(b, input, attrs as unknown as PoolAttrs, 'int64');
        const [dx] = b.executeOp('MaxPoolGradWithArgmax', attr, [xId, dyId, arg64.id], 1);
        return nb.createOutputTensor(dx);
      } finally {
        b.deleteTensor(arg64.id);
      }
    },
  });
  // tf.maxPool's gradient where the forward kept no positions (callers other than the layer).
  const stock = tf.getGradient('MaxPool');
  tf.registerGradient({
    kernelName: 'MaxPool',
    inputsToSave: ['x'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const { pad } = attrs as { pad: unknown };
      if (!active(x, dy as tf.Tensor) || (pad !== 'valid' && pad !== 'same') || x.rank !== 4)
        return stock.gradFunc(dy, saved, attrs);
      return {
        x: () =>
          tf.tidy(() => {
            const [, argmax] = runPoolArgmax(x as tf.Tensor4D, attrs as unknown as PoolAttrs);
            return scatterToArgmax(dy as tf.Tensor4D, x as tf.Tensor4D, argmax, attrs as unknown as PoolAttrs);
          }),
      };
    },
  });
  patchMaxPoolingLayer();
}

function runPoolArgmax(x: tf.Tensor4D, attrs: PoolAttrs): [tf.Tensor4D, tf.Tensor4D] {
  return tf.engine().runKernel(POOL_ARGMAX, { x }, attrs as unknown as tf.NamedAttrMap) as unknown as [
    tf.Tensor4D,
    tf.Tensor4D,
  ];
}

function scatterToArgmax(dy: tf.Tensor4D, input: tf.Tensor4D, argmax: tf.Tensor4D, attrs: PoolAttrs): tf.Tensor4D {
  return tf.engine().runKernel(POOL_SCATTER, { dy, input, argmax }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
}

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * Max pooling that keeps its positions for the backward pass: `MaxPoolWithArgmax` forward (int32
 * positions, its fast kernel, about the time of `MaxPool`), and the gradient scatters `dy` to
 * those positions, so the backward pass does not search the windows again. Values and gradients
 * are those of tf.maxPool and its gradient (each window's gradient goes to its first maximum).
 */
export function maxPoolKeepingArgmax(x: tf.Tensor4D, attrs: PoolAttrs): tf.Tensor4D {
  const op = tf.customGrad(((input: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const [pooled, argmax] = runPoolArgmax(input, attrs);
    save([input, argmax]);
    return {
      value: pooled,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        scatterToArgmax(dy as tf.Tensor4D, saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, attrs),
    };
  }) as unknown as CustomGradFn) as unknown as (input: tf.Tensor4D) => tf.Tensor4D;
  return op(x);
}

/** Whether the engine records a tape now (a forward pass under tf.grad / computeGradients). */
function recording(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/**
 * max-pool(relu(x)) as relu(max-pool(x)), keeping the positions: the two are equal (ReLU is
 * monotone, so it commutes with a maximum), and so are their gradients: where a window's maximum
 * is positive, its first maximum is at the same place in x and in relu(x), and where it is not,
 * both gradients are 0 (ReLU's gradient at x ≤ 0 is 0, the pooled ReLU's too). The backward pass
 * then runs ReLU's gradient on the pooled tensor, a quarter of the size for 2×2 pooling, and never
 * on the full one.
 */
export function reluThenMaxPool(x: tf.Tensor4D, attrs: PoolAttrs): tf.Tensor4D {
  const op = tf.customGrad(((input: tf.Tensor4D, save: tf.GradSaveFunc) => {
    const [pooled, argmax] = runPoolArgmax(input, attrs);
    const value = tf.relu(pooled);
    save([input, argmax, pooled]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [inp, arg, pre] = saved;
        const dPooled = tf.engine().runKernel(RELU_GRAD, { dy, x: pre }) as tf.Tensor4D;
        return scatterToArgmax(dPooled, inp as tf.Tensor4D, arg as tf.Tensor4D, attrs);
      },
    };
  }) as unknown as CustomGradFn) as unknown as (input: tf.Tensor4D) => tf.Tensor4D;
  return op(x);
}

/** The tape's record of the ReLU that produced `t`, while a gradient is recorded (else undefined). */
function reluProducing(t: tf.Tensor): tf.Tensor4D | undefined {
  const tape = (
    tf.engine() as unknown as {
      state: { activeTape?: Array<{ kernelName: string; outputs: tf.Tensor[]; inputs: Record<string, tf.Tensor> }> };
    }
  ).state.activeTape;
  if (!tape) return undefined;
  for (let i = tape.length - 1; i >= 0 && i >= tape.length - 8; i--) {
    const node = tape[i];
    if (node.outputs.length === 1 && node.outputs[0].id === t.id)
      return node.kernelName === 'Relu' && node.inputs.x && !node.inputs.x.isDisposed
        ? (node.inputs.x as tf.Tensor4D)
        : undefined;
  }
  return undefined;
}

/**
 * MaxPooling2D layers (channels last) through {@link maxPoolKeepingArgmax} while a gradient is
 * being recorded; other calls (inference) keep tfjs-layers' own `tf.maxPool`. A pooling of a
 * ReLU's output (conv → BN → ReLU → pool) pools the ReLU's input instead, with
 * {@link reluThenMaxPool}: the ReLU's own output then feeds nothing on the tape, so the backward
 * pass skips its full-size gradient.
 */
function patchMaxPoolingLayer(): void {
  const proto = layerClass('MaxPooling2D').prototype as {
    poolingFunction: (
      this: unknown,
      inputs: tf.Tensor,
      poolSize: [number, number],
      strides: [number, number],
      padding: string,
      dataFormat: string,
    ) => tf.Tensor;
  };
  const stock = proto.poolingFunction;
  proto.poolingFunction = function (inputs, poolSize, strides, padding, dataFormat) {
    if (
      active(inputs) &&
      recording() &&
      inputs.rank === 4 &&
      dataFormat === 'channelsLast' &&
      (padding === 'valid' || padding === 'same')
    ) {
      const attrs: PoolAttrs = { filterSize: poolSize, strides, pad: padding };
      const preRelu = reluProducing(inputs);
      return tf.tidy(() =>
        preRelu && preRelu.dtype === 'float32' && preRelu.rank === 4
          ? reluThenMaxPool(preRelu, attrs)
          : maxPoolKeepingArgmax(inputs as tf.Tensor4D, attrs),
      );
    }
    return stock.call(this, inputs, poolSize, strides, padding, dataFormat);
  };
}
